// Group commit of the WAL sync across processes (and across stores open in one process).
//
// Every writer syncs the WAL after its COMMIT (WALSync.swift). One sync covers every frame written
// before it began, whoever wrote it, so writers of different processes can share one: a page mapped
// from `<store>-sync` holds two counters and a mutex (CGroupSync.h). After its COMMIT has returned,
// a writer takes a ticket (`written` + 1). If `durable` has reached its ticket, a sync that began after
// its COMMIT has completed: done, no sync of its own. Otherwise it takes the mutex — or, while another
// holds it, sleeps until that one's sync ends and looks again — reads `written` (W), syncs, raises
// `durable` to W and wakes the sleepers. Every ticket up to W was taken after its writer's COMMIT had
// returned, so before this sync began: its frames are covered. Alone, a writer pays no system call
// for this: the counters are atomics and an uncontended mutex is one.
//
// The mutex is robust: if its holder dies, the next writer to try it takes it over. A holder that
// lives but does not finish (a process stopped in its sync) is waited for at most `stuckAfter`; then
// the others sync without it, each on its own. Correctness rests only on `durable` being raised to a
// value read before a sync that completed, never on the mutex.
//
// The file: made (or rebuilt from whatever it holds) by a writer that finds no other process using it,
// which it knows from `flock`: every user holds a shared lock for as long as it has the page mapped,
// and whoever gets an exclusive one is alone. The last user to close removes it. A file in use that is
// not a valid page (another build's layout) is left alone, and the store syncs on its own. The file
// holds nothing that must survive: after a crash the next user rebuilds it. Like SQLite's `-shm`, it
// must not be truncated or written by anything else while stores have it open.

import CGroupSync
import Glibc
import Synchronization

final class GroupSync: @unchecked Sendable {
    enum Outcome: Equatable {
        /// This writer synced (and its sync may have covered others).
        case synced
        /// A sync of another writer covered this one's frames.
        case covered
        /// Synced without the mutex: its holder had not finished for too long, or it was unusable.
        case syncedAlone
    }

    /// Where a syncer is, for tests' hooks: holding the mutex, before and after reading `written`.
    enum Stage { case locked, readWritten }

    let path: String
    private let descriptor: Int32
    let area: UnsafeMutablePointer<lo_group_sync>

    /// Syncs, and writers' turns, that found their mutex left by a holder that died.
    let recoveredLocks = Atomic<Int>(0)
    /// Writers covered by another's sync.
    let covered = Atomic<Int>(0)
    let syncedAlone = Atomic<Int>(0)
    /// Commits that went without the writers' turn (WriterTurn.swift): its holder was stuck.
    let turnsPassed = Atomic<Int>(0)
    /// The page's count of commits in the writers' turn after this store's last one.
    let lastTurnCommit = Atomic<UInt64>(0)
    /// Syncs that woke sleepers (made a futex wake call).
    let wakeCalls = Atomic<Int>(0)
    private let sleeping = Atomic<Int>(0)
    /// Runs while this syncer holds the mutex (tests hold a sync there).
    let whileLocked = Mutex<(@Sendable (Stage) -> Void)?>(nil)

    /// A holder that keeps the mutex longer than this (nanoseconds) is taken to be stuck.
    let stuckAfter = Atomic<UInt64>(100_000_000)
    /// Sleepers wake at least this often to try the mutex: a holder that died wakes nobody.
    static let pollInterval: UInt64 = 5_000_000

    private init(path: String, descriptor: Int32, area: UnsafeMutablePointer<lo_group_sync>) {
        self.path = path
        self.descriptor = descriptor
        self.area = area
    }

    deinit {
        munmap(area, Self.fileSize)
        if flock(descriptor, LOCK_EX | LOCK_NB) == 0 && Self.names(path, descriptor) { unlink(path) }
        close(descriptor)
    }

    /// The shared page of the store at `databasePath`, made if need be; nil if it cannot be used (no
    /// permission, a file in use with another layout…): then the caller syncs on its own.
    static func open(databasePath: String) -> GroupSync? {
        let path = databasePath + "-sync"
        var database = stat()
        let mode = stat(databasePath, &database) == 0 ? mode_t(database.st_mode) & 0o666 : 0o644
        for _ in 0..<3 {
            let descriptor = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, mode)
            guard descriptor >= 0 else { return nil }
            let alone = flock(descriptor, LOCK_EX | LOCK_NB) == 0
            if !alone {
                var locked: Int32
                repeat { locked = flock(descriptor, LOCK_SH) } while locked != 0 && errno == EINTR
                guard locked == 0 else { close(descriptor); return nil }
            }
            // The last user removed the file after we opened it: open the one at the path now.
            guard names(path, descriptor) else {
                close(descriptor)
                continue
            }
            if let group = map(path, descriptor, initialize: alone) { return group }
            close(descriptor)
            return nil
        }
        return nil
    }

    /// The file's length: the page of counters, then the shared log's posted commits (CommitPosts.swift).
    static let fileSize = Int(LO_GROUP_SYNC_FILE_SIZE)

    /// Maps the page: rebuilt if `initialize` (the caller is alone), else only if it is valid.
    private static func map(_ path: String, _ descriptor: Int32, initialize: Bool) -> GroupSync? {
        let size = fileSize
        if initialize {
            guard ftruncate(descriptor, off_t(size)) == 0 else { return nil }
        } else {
            var status = stat()
            guard fstat(descriptor, &status) == 0, status.st_size == size else { return nil }  // a shorter one would fault
        }
        guard let memory = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0),
              memory != UnsafeMutableRawPointer(bitPattern: -1) else { return nil }
        let area = memory.bindMemory(to: lo_group_sync.self, capacity: 1)
        let usable = initialize ? lo_group_sync_initialize(area) == 0 && flock(descriptor, LOCK_SH) == 0
                                : lo_group_sync_is_valid(area) != 0
        guard usable else {
            munmap(memory, size)
            return nil
        }
        return GroupSync(path: path, descriptor: descriptor, area: area)
    }

    /// Whether `path` still names the open file.
    static func names(_ path: String, _ descriptor: Int32) -> Bool {
        var open = stat(), named = stat()
        return fstat(descriptor, &open) == 0 && open.st_nlink > 0 && stat(path, &named) == 0
            && named.st_dev == open.st_dev && named.st_ino == open.st_ino
    }

    /// What a sync makes durable: SQLite's WAL (tickets counted on the page) or the shared commit log
    /// (commit ids: SharedLog.swift). Each has its own counters, mutex and futex.
    enum Channel { case wal, log }

    /// Called after the writer's COMMIT has returned: makes its frames durable, by `syncWAL` or by
    /// another writer's sync.
    func sync(_ syncWAL: () throws(StoreError) -> Void) throws(StoreError) -> Outcome {
        try sync(.wal, ticket: lo_group_sync_take_ticket(area), syncWAL)
    }

    /// Makes everything up to `ticket` on `channel` durable, by `syncFile` or by another's sync; the
    /// ticket must be counted as written already.
    func sync(_ channel: Channel, ticket: UInt64, _ syncFile: () throws(StoreError) -> Void) throws(StoreError) -> Outcome {
        while true {
            let seen = generation(channel)
            if durable(channel) >= ticket { return coveredOutcome() }
            let locked = tryLock(channel)
            if locked == 0 || locked == 1 {
                if locked == 1 { recoveredLocks.add(1, ordering: .relaxed) }
                return try syncHoldingLock(channel, ticket, syncFile)
            }
            if locked == EBUSY && lo_group_sync_now() &- lockedAt(channel) < stuckAfter.load(ordering: .relaxed) {
                sleeping.add(1, ordering: .relaxed)
                switch channel {
                case .wal: lo_group_sync_wait(area, seen, Self.pollInterval)
                case .log: lo_log_wait(area, seen, Self.pollInterval)
                }
                sleeping.subtract(1, ordering: .relaxed)
                continue
            }
            let reached = written(channel)
            try syncFile()
            publish(channel, reached)
            syncedAlone.add(1, ordering: .relaxed)
            return .syncedAlone
        }
    }

    private func syncHoldingLock(_ channel: Channel, _ ticket: UInt64, _ syncFile: () throws(StoreError) -> Void) throws(StoreError) -> Outcome {
        let hook = whileLocked.withLock { $0 }
        hook?(.locked)
        // A sync that ended while we waited for the mutex may have covered us.
        if durable(channel) >= ticket {
            unlock(channel)
            return coveredOutcome()
        }
        let reached = written(channel)
        hook?(.readWritten)
        do {
            try syncFile()
        } catch {
            unlock(channel)
            publish(channel, 0)  // the sleepers try for themselves
            throw error
        }
        unlock(channel)
        publish(channel, reached)
        return .synced
    }

    private func publish(_ channel: Channel, _ reached: UInt64) {
        let woke = switch channel {
        case .wal: lo_group_sync_publish(area, reached)
        case .log: lo_log_publish(area, reached)
        }
        if woke != 0 { wakeCalls.add(1, ordering: .relaxed) }
    }

    private func generation(_ channel: Channel) -> UInt32 {
        channel == .wal ? lo_group_sync_generation(area) : lo_log_generation(area)
    }

    private func durable(_ channel: Channel) -> UInt64 {
        channel == .wal ? lo_group_sync_durable(area) : lo_log_load(field(\.log_durable))
    }

    private func written(_ channel: Channel) -> UInt64 {
        channel == .wal ? lo_group_sync_written(area) : lo_log_load(field(\.log_head))
    }

    private func tryLock(_ channel: Channel) -> Int32 {
        channel == .wal ? lo_group_sync_try_lock(area) : lo_log_try_lock(area)
    }

    private func unlock(_ channel: Channel) {
        if channel == .wal { lo_group_sync_unlock(area) } else { lo_log_unlock(area) }
    }

    private func lockedAt(_ channel: Channel) -> UInt64 {
        channel == .wal ? lo_group_sync_locked_at(area) : lo_log_load(field(\.log_locked_at))
    }

    /// A 64-bit field of the page, for the atomic loads and stores of CGroupSync.
    func field(_ key: KeyPath<lo_group_sync, UInt64>) -> UnsafeMutablePointer<UInt64> {
        (UnsafeMutableRawPointer(area) + MemoryLayout<lo_group_sync>.offset(of: key)!).assumingMemoryBound(to: UInt64.self)
    }

    private func coveredOutcome() -> Outcome {
        covered.add(1, ordering: .relaxed)
        return .covered
    }

    /// The counters, read `durable` first (tests: durable never passes written).
    var counters: (durable: UInt64, written: UInt64) {
        let durable = lo_group_sync_durable(area)
        return (durable, lo_group_sync_written(area))
    }

    /// How many of this store's writers sleep until the current sync ends.
    var sleepers: Int { sleeping.load(ordering: .relaxed) }

    /// Whether the page says that someone may sleep until the current sync ends (the next sync then
    /// makes a wake call).
    var maySleepersBeWaiting: Bool { lo_group_sync_may_have_sleepers(area) != 0 }

    /// Tests: marks the page as a writer killed asleep leaves it.
    func markSleepers() { lo_group_sync_mark_sleepers(area) }

    /// Tests: whether another holds the mutex now (takes and lets go of it if free).
    var isLockedElsewhere: Bool {
        let locked = lo_group_sync_try_lock(area)
        if locked == 0 || locked == 1 { lo_group_sync_unlock(area) }
        return locked == EBUSY
    }
}

extension SQLiteStore {
    /// Since the store was opened: how many WAL syncs it made, and how many of its writes were made
    /// durable by another writer's sync (another store's, often another process's) instead.
    public var syncStatistics: (syncs: Int, covered: Int) {
        (walSync.completed.load(ordering: .relaxed), walSync.group?.covered.load(ordering: .relaxed) ?? 0)
    }
}
