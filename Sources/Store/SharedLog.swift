// The commit log shared by every process that has the store open (Docs/Store.md "The commit log",
// "Several processes"): what one process knows of it, and the marks and locks on the `-sync` page
// that all of them share (CGroupSync.h).
//
// The page holds the log's salt, its end, the end of an append under way, and three commit ids:
// `head` (the newest appended), `durable` (the newest whose log sync completed: what snapshots see)
// and `applied` (the newest SQLite has). Two robust mutexes order the work: the writers' turn, held by
// a leader from reading the head to publishing its append (and by whatever must see no new commit:
// a reset, vacuum, rollback); and the apply lock, held by the one process that writes logged commits
// to SQLite. A process reads the log file only while it holds one of them: under the turn nobody else
// appends or resets; under the apply lock nobody resets, and appends only write past the end it read.
//
// Each process keeps what it has read: the commits not applied yet (encoded until it applies them),
// and what the commits after some applied one wrote (the leader's conflict checks). Locks, outermost
// first: the apply lock, the writers' turn, `view`. A leader holds the turn alone; a reset, vacuum
// or rollback both.

import CGroupSync
import Foundation
import Synchronization

final class SharedLog: Sendable {
    /// A commit of the log that this process read or appended. What it read stays encoded until an
    /// apply of this process needs it: most processes never apply what they read, and need only what
    /// it wrote, for conflict checks (decoding every record in every process cost more than that).
    enum PendingCommit {
        case decoded(LoggedCommit)
        case encoded([UInt8])

        func decoded(as id: CommitID, logPath: String) throws -> LoggedCommit {
            switch self {
            case let .decoded(commit): return commit
            case let .encoded(payload):
                guard let commit = LoggedCommit.decode(payload, as: id) else { throw SharedLog.undecodable(id, logPath) }
                return commit
            }
        }
    }

    static func undecodable(_ id: CommitID, _ logPath: String) -> StoreError {
        .corrupt(path: logPath, detail: "commit \(id.rawValue) in the commit log cannot be decoded")
    }

    struct View {
        let log: CommitLog
        /// Commits read from the log or appended, in order, after some commit not after `applied`.
        var records: [(id: CommitID, commit: PendingCommit)] = []
        /// The writes of every commit after `recent.since` read so far; `since` is never after `applied`.
        var recent: RecentWrites
    }

    let page: GroupSync
    let view: Mutex<View>
    /// The log file's descriptor (the view's), for syncs made outside the view's lock.
    let descriptor: Int32
    /// Whether a background apply is scheduled or running in this process.
    let applyScheduled = Atomic<Bool>(false)
    /// Set when the store closes: scheduled applies then do nothing.
    let closed = Atomic<Bool>(false)

    /// A writers' turn or apply lock held this long by another makes a commit or read fail with `busy`.
    static let patience: UInt64 = 30_000_000_000

    init(page: GroupSync, log: consuming sending CommitLog, since: CommitID) {
        self.page = page
        descriptor = log.descriptor
        view = Mutex(View(log: log, recent: RecentWrites(since: since)))
    }

    // MARK: The page's marks

    var head: CommitID { load(\.log_head) }
    var durableHead: CommitID { load(\.log_durable) }
    var appliedHead: CommitID { load(\.log_applied) }
    var salt: UInt64 { lo_log_load(page.field(\.log_salt)) }
    var end: Int { Int(lo_log_load(page.field(\.log_end))) }
    /// Bumped by every gc of the store, and by a holder of the turn that took it from a dead one
    /// (GCGeneration.swift).
    var gcGeneration: UInt32 { lo_gc_generation(page.area) }
    /// The end of an append under way, or `resetting`.
    var appendingTo: UInt64 { lo_log_load(page.field(\.log_appending_to)) }

    private func load(_ key: KeyPath<lo_group_sync, UInt64>) -> CommitID {
        CommitID(Int64(bitPattern: lo_log_load(page.field(key))))
    }

    func store(_ key: KeyPath<lo_group_sync, UInt64>, _ value: UInt64) { lo_log_store(page.field(key), value) }

    /// Raises `applied` (never lowers it: an applier that died after SQLite's COMMIT left it behind).
    func raiseApplied(to commit: CommitID) {
        if commit > appliedHead { store(\.log_applied, UInt64(commit.rawValue)) }
    }

    /// Raises `durable`, waking the log's sync waiters (a commit written outside the log).
    func raiseDurable(to commit: CommitID) { _ = lo_log_publish(page.area, UInt64(commit.rawValue)) }

    /// By a store that opened the database alone (nobody else uses the marks): the log starts empty
    /// after `head`, which SQLite has.
    func start(after head: CommitID, salt: UInt64) {
        store(\.log_end, UInt64(CommitLog.firstRecord))
        store(\.log_appending_to, UInt64(CommitLog.firstRecord))
        for key in [\lo_group_sync.log_head, \.log_durable, \.log_applied] { store(key, UInt64(head.rawValue)) }
        store(\.log_salt, salt)
    }

    /// `appending_to` while the log is being reset (SharedLogCommits.swift, `resetSharedLog`).
    static let resetting = UInt64.max

    /// After a reset of the log (in the writers' turn): its new generation starts empty. `appending_to`
    /// goes last: until then it says `resetting`.
    func publishReset(salt: UInt64) {
        store(\.log_end, UInt64(CommitLog.firstRecord))
        store(\.log_salt, salt)
        store(\.log_appending_to, UInt64(CommitLog.firstRecord))
    }

    // MARK: Locks

    /// Takes the writers' turn, waiting up to `patience`. One whose holder died is taken over: what it
    /// may have left half-done, the page tells (`repair`).
    func takeTurn() throws {
        var locked = lo_group_sync_try_lock_writer(page.area)
        if locked == EBUSY { locked = lo_group_sync_lock_writer(page.area, lo_group_sync_now() &+ Self.patience) }
        if locked == 1 { lo_gc_generation_bump(page.area) }  // the dead holder may have been a gc
        switch locked {
        case 0, 1: return
        case ETIMEDOUT: throw StoreError.busy(path: page.path)
        default: throw StoreError.ioError(path: page.path, detail: "the writers' turn cannot be taken (error \(locked))")
        }
    }

    /// Takes the writers' turn if nobody holds it (or its holder died): whether it did.
    func tryTakeTurn() -> Bool {
        let locked = lo_group_sync_try_lock_writer(page.area)
        if locked == 1 { lo_gc_generation_bump(page.area) }
        return locked == 0 || locked == 1
    }

    /// Lets go of the writers' turn, and wakes a poster whose commit nobody took (CommitPosts.swift).
    func endTurn() {
        lo_group_sync_unlock_writer(page.area)
        handOffToAPoster()
    }

    /// Takes the apply lock: waiting up to `patience` if `wait`, else nil if another holds it.
    func takeApplyLock(wait: Bool) throws -> Bool? {
        var locked = lo_apply_try_lock(page.area)
        if locked == EBUSY {
            guard wait else { return nil }
            locked = lo_apply_lock(page.area, lo_group_sync_now() &+ Self.patience)
        }
        switch locked {
        case 0: return false
        case 1: return true
        case ETIMEDOUT: throw StoreError.busy(path: page.path)
        default: throw StoreError.ioError(path: page.path, detail: "the apply lock cannot be taken (error \(locked))")
        }
    }

    func endApply() { lo_apply_unlock(page.area) }

    /// Makes every record appended so far (by anyone) durable.
    func syncFile() throws(StoreError) {
        guard fdatasync(descriptor) == 0 else {
            throw .ioError(path: page.path, detail: "fdatasync of the commit log failed (errno \(errno))")
        }
    }
}

extension SharedLog.View {
    /// Reads what other processes appended since this process last looked, up to `end` (holding the
    /// turn or the apply lock). A new salt means the log was reset: every commit before its first
    /// record is applied, so what this process had not read of the old generation is not needed.
    mutating func catchUp(salt: UInt64, end: Int) throws {
        if log.salt != salt {
            let known: CommitID? = log.salt == 0 ? nil : log.head
            try log.reload()
            guard log.salt == salt else { return }  // the caller sees that the log and the page differ
            records.removeAll { $0.id <= log.base }
            if known.map({ $0 < log.base }) ?? true { recent = RecentWrites(since: log.base) }
        }
        guard end > log.end else { return }
        // All or nothing: a record that does not decode fails this look and every later one, so that
        // the records after it are never passed over (the conflict checks would miss their writes).
        let (oldEnd, oldHead) = (log.end, log.head)
        let read = log.readRecords(upTo: end)
        var keys: [LoggedCommit.Keys] = []
        keys.reserveCapacity(read.count)
        for record in read {
            guard let recordKeys = LoggedCommit.keys(record.payload) else {
                log.unread(end: oldEnd, head: oldHead)
                throw SharedLog.undecodable(record.commit, log.path)
            }
            keys.append(recordKeys)
        }
        for (record, recordKeys) in zip(read, keys) {
            records.append((record.commit, .encoded(record.payload)))
            recent.record(recordKeys, as: record.commit)
        }
    }

    /// Forgets the decoded commits SQLite has, and the recent writes once there are too many to hold
    /// (the conflict checks then read those from SQLite).
    mutating func trim(applied: CommitID) {
        if let first = records.first, first.id <= applied { records.removeFirst(records.prefix { $0.id <= applied }.count) }
        if recent.count > RecentWrites.limit { forgetRecentWrites(applied: applied) }
    }

    /// Rebuilds the recent writes from the commits after `applied`.
    mutating func forgetRecentWrites(applied: CommitID) {
        var fresh = RecentWrites(since: applied)
        for (id, commit) in records where id > applied {
            switch commit {
            case let .decoded(commit): fresh.record(commit.request, as: id)
            case let .encoded(payload): if let keys = LoggedCommit.keys(payload) { fresh.record(keys, as: id) }
            }
        }
        recent = fresh
    }
}
