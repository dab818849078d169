// Commits through the commit log shared by processes (Docs/Store.md "The commit log", "Several
// processes"; SharedLog.swift): a leader takes the writers' turn, reads what others appended, checks
// its batch, appends it and lets go; the log sync is shared as the WAL's is (GroupSync, `.log`); then
// the commits are durable and visible, and whichever process takes the apply lock writes them to SQLite.

import CGroupSync
import Foundation

extension SQLiteStore {
    /// Checks each commit of the batch against every commit before it (this process's and others'),
    /// appends those that pass with one write, and syncs the log (or finds another's sync covered it).
    /// A batch that finds the writers' turn taken is posted for its holder (CommitPosts.swift); what
    /// the holder returns is committed here, in the turn.
    func logSharedBatch(_ requests: [CommitRequest], _ shared: SharedLog) -> [Result<CommitID, any Error>] {
        var results = [Result<CommitID, any Error>?](repeating: nil, count: requests.count)
        if !shared.tryTakeTurn() {
            if let posted = commitByPost(requests, shared) { results = posted }
            guard results.contains(where: { $0 == nil }) else { return results.map { $0! } }
            do { try shared.takeTurn() } catch {
                return results.map { $0 ?? .failure(error) }
            }
        }
        let unposted = requests.indices.filter { results[$0] == nil }
        do {
            let own = try leadHoldingTurn(unposted.map { requests[$0] }, shared)
            for (index, result) in zip(unposted, own) { results[index] = result }
        } catch {
            for index in unposted { results[index] = .failure(error) }
        }
        return results.map { $0! }
    }

    /// In the writers' turn: appends the batch with the commits posted, syncs the log and wakes the
    /// posters; then, while commits are posted, more rounds of the posted commits alone, so that one
    /// process appends and syncs for all (and reads nothing others appended meanwhile). Lets go of
    /// the turn. Throws what stopped the batch.
    func leadHoldingTurn(_ requests: [CommitRequest], _ shared: SharedLog) throws -> [Result<CommitID, any Error>] {
        defer { shared.endTurn() }
        var results: [Result<CommitID, any Error>] = []
        for round in 1...Self.postRounds {
            var roundResults: [Result<CommitID, any Error>] = [], postsAppended = false
            let last: CommitID?
            do {
                last = try shared.view.withLock { view in
                    try appendShared(round == 1 ? requests : [], &roundResults, &postsAppended, &view, shared)
                }
            } catch {
                if round == 1 { throw error }
                break
            }
            // A conflict with commits another process appended but has not synced (it may have died
            // before its sync) makes them durable too, so that the caller's retry sees them in the head.
            let conflicted = roundResults.contains { if case .failure(_ as CommitConflict) = $0 { true } else { false } }
            let seen = shared.head
            if let syncThrough = last ?? (conflicted && shared.durableHead < seen ? seen : nil) {
                // The sync's end wakes the posters (with one wake call), whose own sync it covers; if it
                // failed, each tries for itself. One covered by another's sync may have slept after it.
                do {
                    let outcome = try shared.page.sync(.log, ticket: UInt64(syncThrough.rawValue)) { () throws(StoreError) in try shared.syncFile() }
                    if outcome == .covered && postsAppended { shared.wakePosters() }
                } catch {
                    roundResults = roundResults.map { if case .success = $0 { .failure(error) } else { $0 } }
                }
            }
            if round == 1 { results = roundResults }
            if last == nil || !shared.hasPosts { break }
        }
        scheduleSharedApply(shared, after: ExclusiveLog.applyDelay)
        return results
    }

    /// How many rounds a holder of the turn appends and syncs posted commits before it hands the turn
    /// on (its own caller, and its process's other commits, wait meanwhile: a few ms at most).
    static let postRounds = 16

    /// Posts the commits and sleeps until a holder of the turn appended or returned each, then makes
    /// the appended durable (a sync that covered them, usually). Nil if they were not posted (no
    /// staged large bytes, payloads that fit, enough posts free); a returned commit's result is nil:
    /// the caller commits it itself. While the turn is free, the poster takes it and leads.
    private func commitByPost(_ requests: [CommitRequest], _ shared: SharedLog) -> [Result<CommitID, any Error>?]? {
        guard requests.allSatisfy({ $0.largeBytes.isEmpty }) else { return nil }
        let time = Date().timeIntervalSince1970
        guard let indexes = shared.post(requests.map { (LoggedCommit.encode($0, time: time), $0.base, $0.gcGeneration) }) else { return nil }
        let posted = lo_group_sync_now()
        var outcomes = [SharedLog.PostState?](repeating: nil, count: indexes.count), timedOut = Set<Int>()
        while true {
            // Read before the posts' states: a change of a state after this is followed by a wake.
            let seen = shared.postsGeneration
            for (position, index) in indexes.enumerated() where outcomes[position] == nil {
                let state = shared.postState(index)
                if case .waiting = state { continue }
                outcomes[position] = state
                shared.freePost(index)
            }
            let waiting = indexes.indices.filter { outcomes[$0] == nil }
            if waiting.isEmpty { break }
            if shared.tryTakeTurn() {
                // Leads for the posts, these among them; if that fails before taking them, the
                // caller meets the failure in its own turn.
                if (try? leadHoldingTurn([], shared)) == nil {
                    for position in waiting where shared.withdrawPost(indexes[position]) {
                        outcomes[position] = .returned
                        shared.freePost(indexes[position])
                    }
                }
                continue
            }
            if lo_group_sync_now() &- posted > SharedLog.patience {
                // Nobody took them in time: withdrawn, and answered busy. (One taken is waited for.)
                let withdrawn = waiting.filter { shared.withdrawPost(indexes[$0]) }
                for position in withdrawn {
                    outcomes[position] = .returned
                    timedOut.insert(position)
                    shared.freePost(indexes[position])
                }
                if withdrawn.count == waiting.count { continue }
            }
            shared.awaitPosts(seen, waiting.lazy.map { indexes[$0] })
        }
        let newest = outcomes.compactMap { if case let .appended(commit) = $0 { commit } else { nil } }.max()
        var synced: Result<Void, any Error> = .success(())
        if let newest {
            do {
                _ = try shared.page.sync(.log, ticket: UInt64(newest.rawValue)) { () throws(StoreError) in try shared.syncFile() }
            } catch {
                synced = .failure(error)
            }
        }
        return outcomes.indices.map { position in
            if timedOut.contains(position) { return .failure(StoreError.busy(path: shared.page.path)) }
            guard case let .appended(commit) = outcomes[position] else { return nil }
            return synced.map { commit }
        }
    }

    /// In the writers' turn: the checks and the append of the batch and of the commits posted; answers
    /// the newest commit appended, if any, and whether posts were.
    private func appendShared(_ requests: [CommitRequest], _ results: inout [Result<CommitID, any Error>],
                              _ postsAppended: inout Bool, _ view: inout SharedLog.View, _ shared: SharedLog) throws -> CommitID? {
        try repair(&view, shared)
        try view.catchUp(salt: shared.salt, end: shared.end)
        guard view.log.salt == shared.salt, view.log.head == shared.head, view.log.end == shared.end else {
            throw StoreError.corrupt(path: view.log.path, detail: "the commit log ends at commit \(view.log.head.rawValue), but the shared page says \(shared.head.rawValue)")
        }
        view.trim(applied: shared.appliedHead)
        let time = Date().timeIntervalSince1970
        var payloads: [[UInt8]] = [], accepted: [(id: CommitID, commit: LoggedCommit)] = []
        var head = view.log.head
        let gcGeneration = shared.gcGeneration
        for request in requests {
            do {
                guard request.base <= head else { throw StoreError.noSuchCommit(request.base) }
                try checkGCGeneration(request, current: gcGeneration)
                if request.base < head { try checkSharedConflicts(request, view.recent) }
                if !request.largeBytes.isEmpty {
                    try withReader { connection in
                        for large in request.largeBytes { try checkComplete(large, connection) }
                    }
                }
                head = CommitID(head.rawValue + 1)
                // Noted before the write: if that fails, this process's log takes no more commits.
                view.recent.record(request, as: head)
                payloads.append(LoggedCommit.encode(request, time: time))
                accepted.append((head, LoggedCommit(time: time, request: request)))
                results.append(.success(head))
            } catch {
                results.append(.failure(error))
            }
        }
        let posts = shared.takePosts()
        // Every post not appended is returned, whatever ends this: its poster commits it itself.
        defer {
            let returned = posts.filter { shared.isTaken($0.index) }
            for post in returned { shared.finishPost(post.index, appended: false) }
            if !returned.isEmpty { shared.wakePosters() }
        }
        // Posts are checked and kept encoded, not decoded: the holder's round is the time every
        // poster waits on, and the apply decodes them anyway.
        var postsInLog: [Int] = [], postPayloads: [(id: CommitID, payload: [UInt8])] = []
        for post in posts {
            let id = CommitID(head.rawValue + 1)
            guard post.gcGeneration.map({ $0 == gcGeneration }) ?? true,
                  let payload = LoggedCommit.restamped(post.payload, time: time),
                  let keys = LoggedCommit.keys(payload, validating: true),
                  post.base <= head, post.base == head || !postConflicts(payload, keys, base: post.base, view.recent) else { continue }
            head = id
            shared.notePostCommit(post.index, id)  // before the append: if this process dies, the next holder knows
            view.recent.record(keys, as: id)
            payloads.append(payload)
            postPayloads.append((id, payload))
            postsInLog.append(post.index)
        }
        guard !payloads.isEmpty else { return nil }
        do {
            try view.log.append(payloads) { end in shared.store(\.log_appending_to, UInt64(end)) }
        } catch {
            view.forgetRecentWrites(applied: shared.appliedHead)  // of the batch's commits, which are not logged
            throw error
        }
        // The end before the head: whoever sees a commit durable finds its record within the end.
        shared.store(\.log_end, UInt64(view.log.end))
        shared.store(\.log_head, UInt64(head.rawValue))
        view.records += accepted.lazy.map { ($0.id, .decoded($0.commit)) }
        view.records += postPayloads.lazy.map { ($0.id, .encoded($0.payload)) }
        for index in postsInLog { shared.finishPost(index, appended: true) }
        postsAppended = !postsInLog.isEmpty
        return head
    }

    /// Throws `CommitConflict` if a commit after the request's base wrote one of its objects or roots:
    /// the writes of the logged commits read, and for a base before them, SQLite's changed lists.
    private func checkSharedConflicts(_ request: CommitRequest, _ recent: RecentWrites) throws {
        var conflicts: [CommitConflict] = []
        do { try recent.checkConflicts(request) } catch let conflict as CommitConflict { conflicts.append(conflict) }
        if request.base < recent.since {
            // `since` is applied: a read transaction begun now sees every commit through it.
            do { try withReader { try checkConflicts(request, $0) } } catch let conflict as CommitConflict { conflicts.append(conflict) }
        }
        guard !conflicts.isEmpty else { return }
        if let withARollback = conflicts.first(where: { $0.rollback != nil }) { throw withARollback }
        let oids = Set(conflicts.flatMap(\.oids)), roots = Set(conflicts.flatMap(\.roots))
        throw CommitConflict(oids: request.writes.map(\.oid).filter(oids.contains), roots: roots.sorted())
    }

    /// Whether a post (a valid payload, on a base before the head) wrote something written since its
    /// base: from the recent writes, or for a base before them, as a decoded commit's check.
    private func postConflicts(_ payload: [UInt8], _ keys: LoggedCommit.Keys, base: CommitID, _ recent: RecentWrites) -> Bool {
        if base >= recent.since { return recent.conflicts(keys, base: base) }
        guard var request = LoggedCommit.decode(payload, as: CommitID(base.rawValue + 1))?.request else { return true }
        request.base = base
        return (try? checkSharedConflicts(request, recent)) == nil
    }

    /// In the writers' turn: finishes a reset that failed or whose writer died (the page still says
    /// `resetting`), and zeroes what an append that failed or whose writer died left past the end
    /// (its commits were never published, so never acknowledged; the bytes of a longer dead append
    /// after a shorter new one could pass for records). Failures of this process's earlier appends
    /// are forgotten: the page says where the log ends.
    private func repair(_ view: inout SharedLog.View, _ shared: SharedLog) throws {
        view.log.forgetFailure()
        if shared.appendingTo == SharedLog.resetting {
            try view.log.reload()
            if view.log.salt == shared.salt {
                // The header was not written: write it (after a commit outside the log SQLite may have).
                try raiseMarksToSQLitesHead(shared)
                try view.log.reset(base: shared.head)
            } else {
                guard view.log.base == shared.head else {
                    throw StoreError.corrupt(path: view.log.path, detail: "the commit log starts after commit \(view.log.base.rawValue), but the shared page's head is \(shared.head.rawValue)")
                }
                try shared.syncFile()
            }
            view.records.removeAll()
            view.recent = RecentWrites(since: shared.head)
            shared.publishReset(salt: view.log.salt)
        }
        let appendingTo = shared.appendingTo, end = shared.end
        if appendingTo > UInt64(end) {
            try view.log.zero(end..<Int(appendingTo))
            shared.store(\.log_appending_to, UInt64(end))
        }
        // A leader that died between publishing the end and the head: its records are whole and were
        // checked against every commit before them.
        try view.catchUp(salt: shared.salt, end: shared.end)
        if view.log.salt == shared.salt && view.log.head > shared.head {
            shared.store(\.log_head, UInt64(view.log.head.rawValue))
        }
        shared.repairPosts()
    }

    /// In the writers' turn and holding the apply lock, with every commit through the page's head
    /// applied and SQLite's WAL synced: empties the log after `head`. The page says `resetting` until
    /// it is done, so that a holder of the turn finishes it if this fails or its process dies.
    private func resetSharedLog(after head: CommitID, _ view: inout SharedLog.View, _ shared: SharedLog) throws {
        // The new salt is made from the current one: never from an older one this process knew, which
        // would give the salt of a generation whose records are still in the file.
        if view.log.salt != shared.salt { try view.log.reload() }
        guard view.log.salt == shared.salt else {
            throw StoreError.corrupt(path: view.log.path, detail: "the commit log's header and the shared page disagree")
        }
        shared.store(\.log_appending_to, SharedLog.resetting)
        try view.log.reset(base: head)
        view.records.removeAll()
        view.recent = RecentWrites(since: head)
        shared.publishReset(salt: view.log.salt)
    }

    // MARK: Applying

    /// Applies the durable commits in this process's background, one apply at a time. If another
    /// process holds the apply lock, or commits were made durable meanwhile, it looks again after the
    /// same delay, so that they gather (applying again at once put a few commits in each transaction).
    func scheduleSharedApply(_ shared: SharedLog, after delay: DispatchTimeInterval = .seconds(0)) {
        guard !shared.applyScheduled.exchange(true, ordering: .acquiringAndReleasing) else { return }
        // Weak: a scheduled apply must not keep the log, and its page, open after the store closed
        // (the last process's close removes the page's file; a process may exit as soon as it closes).
        applyQueue.asyncAfter(deadline: .now() + delay) { [weak self, weak shared] in
            guard let self, let shared, !shared.closed.load(ordering: .acquiring) else { return }
            var failed = false
            do { _ = try applyShared(shared, wait: false) } catch { failed = true }
            shared.applyScheduled.store(false, ordering: .releasing)
            if failed {
                scheduleSharedApply(shared, after: .milliseconds(100))
            } else if shared.appliedHead < shared.durableHead {
                scheduleSharedApply(shared, after: ExclusiveLog.applyDelay)
            }
        }
    }

    /// Writes every durable commit SQLite lacks to it, in log order, holding the apply lock (waiting
    /// for it if `wait`); then resets the log if it is long. False if another held the lock.
    @discardableResult
    func applyShared(_ shared: SharedLog, wait: Bool) throws -> Bool {
        guard try shared.takeApplyLock(wait: wait) != nil else { return false }
        defer { shared.endApply() }
        try applyDurable(shared)
        try resetSharedLogIfLong(shared)
        return true
    }

    /// Holding the apply lock.
    private func applyDurable(_ shared: SharedLog) throws {
        while true {
            let applied = shared.appliedHead, durable = shared.durableHead
            guard applied < durable else { return }
            let pending = try shared.view.withLock { view in
                try view.catchUp(salt: shared.salt, end: shared.end)
                view.trim(applied: applied)
                return Array(view.records.prefix { $0.id <= durable }.prefix(Self.sharedApplyBatchLimit))
            }
            let commits = try pending.map { (id: $0.id, commit: try $0.commit.decoded(as: $0.id, logPath: path + "-log")) }
            guard let first = commits.first, first.id.rawValue == applied.rawValue + 1, let last = commits.last else {
                throw StoreError.corrupt(path: path + "-log", detail: "commit \(applied.rawValue + 1) is durable but not in the commit log")
            }
            try applyLogged(commits, shared: true)
            shared.raiseApplied(to: last.id)
        }
    }

    private static let sharedApplyBatchLimit = 256

    /// Holding the apply lock: empties the log once it is long, in the writers' turn (so nothing is
    /// appended meanwhile), with every commit in it synced and applied, and SQLite's WAL synced.
    private func resetSharedLogIfLong(_ shared: SharedLog) throws {
        guard shared.end >= ExclusiveLog.resetLength else { return }
        try shared.takeTurn()
        defer { shared.endTurn() }
        try drainHoldingBoth(shared)
        try walSync.sync()
        try shared.view.withLock { view in
            guard shared.appliedHead == shared.head else { return }
            try resetSharedLog(after: shared.head, &view, shared)
        }
    }

    /// Holding the apply lock and the writers' turn: makes every logged commit durable and applied.
    private func drainHoldingBoth(_ shared: SharedLog) throws {
        try shared.view.withLock { view in try repair(&view, shared) }
        _ = try shared.page.sync(.log, ticket: UInt64(shared.head.rawValue)) { () throws(StoreError) in try shared.syncFile() }
        try applyDurable(shared)
    }

    // MARK: Reads, whole-store operations

    /// Waits until SQLite has every commit through `commit` (a durable one), applying them if need be.
    func awaitSharedApplied(_ commit: CommitID, _ shared: SharedLog) throws {
        while shared.appliedHead < commit {
            try applyShared(shared, wait: true)
        }
    }

    /// Runs `body` in the writers' turn with every logged commit durable and applied, holding the apply
    /// lock (vacuum, rollback).
    func withSharedLogDrained<T>(_ shared: SharedLog, _ body: () throws -> T) throws -> T {
        _ = try shared.takeApplyLock(wait: true)
        defer { shared.endApply() }
        try shared.takeTurn()
        defer { shared.endTurn() }
        try drainHoldingBoth(shared)
        return try body()
    }

    /// In `withSharedLogDrained`: runs `commit`, which writes a commit to SQLite directly (a rollback,
    /// its WAL synced), then starts the log after it. The page says `resetting` from before that
    /// commit: if this process dies after it, before the marks say so, the next holder of the turn
    /// finds SQLite's head past the page's and starts the log there (`repair`), instead of giving the
    /// commit's id to another. The marks go before the reset: if that fails, the next holder does it.
    func sharedCommitOutsideTheLog(_ shared: SharedLog, _ commit: () throws -> CommitID) throws -> CommitID {
        shared.view.withLock { _ in shared.store(\.log_appending_to, SharedLog.resetting) }
        let id: CommitID
        do {
            id = try commit()
        } catch {
            // It may have failed after SQLite's COMMIT; if this fails too, the next holder does it.
            try? shared.view.withLock { view in
                try raiseMarksToSQLitesHead(shared)
                try resetSharedLog(after: shared.head, &view, shared)
            }
            throw error
        }
        try shared.view.withLock { view in
            raiseMarks(to: id, shared)
            try resetSharedLog(after: id, &view, shared)
        }
        return id
    }

    /// In the writers' turn, with every logged commit applied: a commit written outside the log may be
    /// in SQLite past the page's head (its writer died, or failed, before it raised the marks).
    private func raiseMarksToSQLitesHead(_ shared: SharedLog) throws {
        let sqliteHead = try withReader { try Self.head($0) }
        if sqliteHead > shared.head { raiseMarks(to: sqliteHead, shared) }
    }

    /// A commit SQLite has, written outside the log: the head, durable and applied.
    private func raiseMarks(to id: CommitID, _ shared: SharedLog) {
        shared.store(\.log_head, UInt64(id.rawValue))
        shared.raiseDurable(to: id)
        shared.raiseApplied(to: id)
    }

    // MARK: Opening, closing

    /// Opening alone (no other process has the database open): replays what the log holds, empties it
    /// and sets the page's marks. Else joins the processes that share it: nil if none does (the others
    /// commit without it, or the last of them is closing).
    func openSharedLog(alone: Bool) throws -> SharedLog? {
        let logPath = path + "-log"
        let log: CommitLog
        if alone {
            let (replayed, head) = try replayLog(creatingWith: 0)
            try replayed.reset(base: head, holder: 0)
            log = replayed
        } else {
            guard let joined = try? CommitLog.openUnread(path: logPath) else { return nil }
            // Members hold a shared lock on the log: if an exclusive one is granted, there are none.
            if flock(joined.descriptor, LOCK_EX | LOCK_NB) == 0 { return nil }
            log = joined
        }
        guard flock(log.descriptor, LOCK_SH | LOCK_NB) == 0, GroupSync.names(logPath, log.descriptor) else { return nil }
        guard let page = walSync.group else {
            throw StoreError.ioError(path: path + "-sync", detail: "the shared page cannot be used, so neither can the shared commit log")
        }
        let salt = log.salt, head = log.head
        let shared = SharedLog(page: page, log: log, since: head)
        if alone {
            try markLogInUse()
            shared.start(after: head, salt: salt)
        } else if shared.salt == 0 {
            return nil
        }
        return shared
    }

    /// Closing: applies what is durable; the last process to close also syncs SQLite's WAL and removes
    /// the log (after syncing and applying what a process killed meanwhile left in it).
    func closeSharedLog() {
        guard let sharedLog else { return }
        sharedLog.closed.store(true, ordering: .releasing)
        if DispatchQueue.getSpecific(key: Self.applyQueueKey) != ObjectIdentifier(applyQueue) {
            applyQueue.sync {}  // an apply that began before
        }
        do { try applyShared(sharedLog, wait: true) } catch { return }
        guard flock(sharedLog.descriptor, LOCK_EX | LOCK_NB) == 0 else { return }
        do {
            _ = try withSharedLogDrained(sharedLog) {}
            try walSync.sync()
            try clearLogInUse()
        } catch { return }
        unlink(path + "-log")
    }
}
