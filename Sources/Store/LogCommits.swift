// Commits through the commit log, in a store opened exclusively (Docs/Store.md "The commit log"): the
// leader checks a batch, appends it to the log with one write, syncs the log and answers; a background
// apply writes the logged commits to SQLite in order; reads of a snapshot SQLite does not have yet
// wait for it; opening replays what a killed holder left in the log.

import Foundation

extension SQLiteStore {
    /// Checks each commit of the batch against every commit before it, logs those that pass with one
    /// write and one sync, and makes them visible. A commit that conflicts is left out.
    func logBatch(_ requests: [CommitRequest], _ exclusive: ExclusiveLog) -> [Result<CommitID, any Error>] {
        exclusive.trimRecentWrites()
        return exclusive.log.withLock { log -> [Result<CommitID, any Error>] in
            let time = Date().timeIntervalSince1970
            var results: [Result<CommitID, any Error>] = [], payloads: [[UInt8]] = []
            var accepted: [(id: CommitID, commit: LoggedCommit)] = []
            var head = log.head
            for request in requests {
                do {
                    guard request.base <= head else { throw StoreError.noSuchCommit(request.base) }
                    try checkGCGeneration(request, current: exclusive.gcGeneration.load(ordering: .acquiring))
                    if request.base < head { try checkLoggedConflicts(request, exclusive) }
                    if !request.largeBytes.isEmpty {
                        try withReader { connection in
                            for large in request.largeBytes { try checkComplete(large, connection) }
                        }
                    }
                    head = CommitID(head.rawValue + 1)
                    // Noted before the write: if that fails, the log takes no more commits anyway.
                    exclusive.state.withLock { $0.recent.record(request, as: head) }
                    payloads.append(LoggedCommit.encode(request, time: time))
                    accepted.append((head, LoggedCommit(time: time, request: request)))
                    results.append(.success(head))
                } catch {
                    results.append(.failure(error))
                }
            }
            guard !payloads.isEmpty else { return results }
            do {
                try log.append(payloads)
                try log.sync()
            } catch {
                return results.map { if case .success = $0 { .failure(error) } else { $0 } }
            }
            exclusive.published(accepted)
            scheduleApply(exclusive, after: ExclusiveLog.applyDelay)
            return results
        }
    }

    /// Throws `CommitConflict` if a commit after the request's base wrote one of its objects or roots:
    /// the logged commits' writes in memory, and for a base before them, SQLite's changed lists.
    private func checkLoggedConflicts(_ request: CommitRequest, _ exclusive: ExclusiveLog) throws {
        var conflicts: [CommitConflict] = []
        let since = exclusive.state.withLock { state -> CommitID in
            do { try state.recent.checkConflicts(request) } catch { conflicts.append(error as! CommitConflict) }
            return state.recent.since
        }
        if request.base < since {
            // `since` is applied: a read transaction begun now sees every commit through it.
            do { try withReader { try checkConflicts(request, $0) } } catch let conflict as CommitConflict { conflicts.append(conflict) }
        }
        guard !conflicts.isEmpty else { return }
        if let withARollback = conflicts.first(where: { $0.rollback != nil }) { throw withARollback }
        let oids = Set(conflicts.flatMap(\.oids)), roots = Set(conflicts.flatMap(\.roots))
        throw CommitConflict(oids: request.writes.map(\.oid).filter(oids.contains), roots: roots.sorted())
    }

    // MARK: Applying

    /// Tells the apply queue's own blocks that they run there.
    static let applyQueueKey = DispatchSpecificKey<ObjectIdentifier>()

    /// Most logged commits written to SQLite in one transaction.
    private static let applyBatchLimit = 256

    /// Applies the logged commits in the background, one apply at a time. A running apply holds the
    /// store: if its last user lets go meanwhile, the store closes on the apply's queue when it ends.
    func scheduleApply(_ exclusive: ExclusiveLog, after delay: DispatchTimeInterval = .seconds(0)) {
        guard !exclusive.applyScheduled.exchange(true, ordering: .acquiringAndReleasing) else { return }
        applyQueue.asyncAfter(deadline: .now() + delay) { [weak self] in
            guard let self, !exclusive.closed.load(ordering: .acquiring) else { return }
            let applied = applyPending(exclusive)
            exclusive.applyScheduled.store(false, ordering: .releasing)
            if !applied {
                scheduleApply(exclusive, after: .milliseconds(100))
            } else if !exclusive.state.withLock({ $0.pending.isEmpty }) {
                scheduleApply(exclusive)  // published after the last look
            }
        }
    }

    /// Has the pending commits applied now, not after the batching delay: for a read that waits for them.
    private func applyNow(_ exclusive: ExclusiveLog) {
        applyQueue.async { [weak self] in
            guard let self, !exclusive.closed.load(ordering: .acquiring) else { return }
            applyPending(exclusive)
        }
    }

    /// Waits until SQLite has every commit through `commit`, having them applied now if it lacks some.
    private func waitUntilApplied(_ commit: CommitID, _ exclusive: ExclusiveLog) throws {
        if exclusive.appliedHead < commit { applyNow(exclusive) }
        try exclusive.waitUntilApplied(commit)
    }

    /// Writes every pending commit to SQLite, in order; false if that failed (waiting reads then get
    /// the error). Then resets the log if it is long.
    @discardableResult
    func applyPending(_ exclusive: ExclusiveLog, schedulingRelease: Bool = true) -> Bool {
        while true {
            let commits = exclusive.state.withLock { Array($0.pending.prefix(Self.applyBatchLimit)) }
            guard let last = commits.last else { break }
            do {
                try applyLogged(commits, schedulingRelease: schedulingRelease)
            } catch {
                exclusive.applyFailed(error as? StoreError ?? .ioError(path: path, detail: "applying the commit log: \(error)"))
                return false
            }
            exclusive.applied(commits.count, through: last.id)
        }
        if exclusive.log.withLockIfAvailable({ $0.end }) ?? 0 >= ExclusiveLog.resetLength {
            try? resetLog(exclusive)
        }
        return true
    }

    /// Writes logged commits, the next ones SQLite lacks, in one transaction; its WAL is not synced
    /// (the log holds them).
    /// `shared`: the log shared by processes, whose other appliers write to SQLite too (so no snapshot
    /// is held), and one that died after its COMMIT may have applied the first of them (skipped).
    func applyLogged(_ commits: some Collection<(id: CommitID, commit: LoggedCommit)>, schedulingRelease: Bool = true,
                     shared: Bool = false) throws {
        guard let first = commits.first else { return }
        var holdsSnapshot = false
        try writer.withLock { connection in
            defer { holdsSnapshot = connection.holdsSnapshot }
            try transaction(connection, holdingSnapshot: !shared) {
                var batch = try BatchState(bases: CollectionOfOne(CommitID(first.id.rawValue - 1)), connection)
                for (id, commit) in commits {
                    if shared && id <= batch.head {
                        try checkApplied(id, commit, connection)
                        continue
                    }
                    guard id.rawValue == batch.head.rawValue + 1 else {
                        throw StoreError.corrupt(path: path + "-log", detail: "commit \(id.rawValue) of the commit log does not follow commit \(batch.head.rawValue), the newest in the database")
                    }
                    try insert(commit.request, as: id, time: commit.time, connection)
                    batch.record(commit.request, as: id)
                }
                return ((), batch)
            }
        }
        if holdsSnapshot && schedulingRelease { releaseSnapshotWhenIdle() }
    }

    /// A logged commit SQLite has already must be that commit (an applier died after its COMMIT), not
    /// one another program wrote with the same id: its time tells.
    private func checkApplied(_ id: CommitID, _ commit: LoggedCommit, _ connection: Connection) throws {
        let query = try connection.statement("SELECT time FROM commits WHERE id = ?")
        defer { query.reset() }
        query.bind(1, id.rawValue)
        guard try query.step(), query.double(0) == commit.time else {
            throw StoreError.corrupt(path: path, detail: "commit \(id.rawValue) in the database is not the one in the commit log: something wrote to the database without the log")
        }
    }

    /// Empties the log if every commit in it is applied: SQLite's WAL is synced first, so that they are
    /// durable there. Runs where applies run (one at a time), so nothing is applied between the sync
    /// and the reset; a commit logged meanwhile is not applied, and leaves the log as it is.
    private func resetLog(_ exclusive: ExclusiveLog) throws {
        try walSync.sync()
        try exclusive.log.withLockIfAvailable { log throws in
            if log.head == exclusive.appliedHead { try log.reset(base: log.head) }
        }
    }

    // MARK: Reads, whole-store operations, closing

    /// In a store opened exclusively, waits until SQLite has every durable commit through `snapshot`.
    func awaitApplied(_ snapshot: CommitID) throws {
        if let sharedLog { return try awaitSharedApplied(min(snapshot, sharedLog.durableHead), sharedLog) }
        guard let exclusiveLog else { return }
        try waitUntilApplied(min(snapshot, exclusiveLog.durableHead), exclusiveLog)
    }

    /// The commit to read `oids` as of, for `snapshot`: itself, once SQLite has every commit through it.
    /// If the apply fails (a full disk), objects that none of the logged commits SQLite lacks wrote are
    /// the same as of the newest it has: those read on. (A session whose own commit is in the log alone
    /// could read nothing at all, its exception handling's code included: its process was stopped.)
    func readableSnapshot(of oids: [UInt64], _ snapshot: CommitID) throws -> CommitID {
        do {
            try awaitApplied(snapshot)
            return snapshot
        } catch let error as StoreError {
            guard let applied = sharedLog?.appliedHead ?? exclusiveLog?.appliedHead, applied < snapshot,
                  let written = try? writes(after: applied, before: CommitID(snapshot.rawValue + 1)).oids,
                  !oids.contains(where: written.contains) else { throw error }
            return applied
        }
    }

    /// In a store opened exclusively, waits until SQLite has every durable commit.
    func drainLog() throws {
        if let sharedLog { return try awaitSharedApplied(sharedLog.durableHead, sharedLog) }
        guard let exclusiveLog else { return }
        try waitUntilApplied(exclusiveLog.durableHead, exclusiveLog)
    }

    /// Runs `body` with no commit logged meanwhile and every logged one applied (vacuum, rollback).
    /// With the log shared by processes, `body` gets nil, and holds the writers' turn and the apply lock.
    func withLogDrained<T>(_ body: (CommitLog?) throws -> T) throws -> T {
        if let sharedLog { return try withSharedLogDrained(sharedLog) { try body(nil) } }
        guard let exclusiveLog else { return try body(nil) }
        return try exclusiveLog.log.withLock { log in
            try waitUntilApplied(exclusiveLog.durableHead, exclusiveLog)
            return try body(log)
        }
    }

    /// Closing: applies what is pending, syncs SQLite's WAL and removes the log. If any of that fails,
    /// the log stays, and the next open replays it.
    func closeLog() {
        closeSharedLog()
        guard let exclusiveLog else { return }
        exclusiveLog.closed.store(true, ordering: .releasing)
        if DispatchQueue.getSpecific(key: Self.applyQueueKey) != ObjectIdentifier(applyQueue) {
            applyQueue.sync {}  // an apply that began before
        }
        guard applyPending(exclusiveLog, schedulingRelease: false) else { return }
        writer.withLock { $0.releaseSnapshot() }
        do {
            try walSync.sync()
            try clearLogInUse()
        } catch { return }
        unlink(path + "-log")
    }

    // MARK: Replaying

    /// Opens the store's log (making an empty one after SQLite's head if there is none), applies the
    /// records SQLite lacks (a holder was killed) and syncs SQLite's WAL. Answers the log and the head.
    func replayLog(creatingWith holder: Int64) throws -> (log: CommitLog, head: CommitID) {
        let head = try writer.withLock { try Self.head($0) }
        let (log, records) = try CommitLog.open(path: path + "-log", creatingAfter: head, holder: holder)
        let missing = records.drop { $0.commit <= head }
        if let first = missing.first {
            guard first.commit.rawValue == head.rawValue + 1 else {
                throw StoreError.corrupt(path: log.path, detail: "the commit log starts at commit \(first.commit.rawValue), but the newest commit in the database is \(head.rawValue)")
            }
            var commits: [(id: CommitID, commit: LoggedCommit)] = []
            for record in missing {
                guard let commit = LoggedCommit.decode(record.payload, as: record.commit) else {
                    throw StoreError.corrupt(path: log.path, detail: "commit \(record.commit.rawValue) in the commit log cannot be decoded")
                }
                commits.append((record.commit, commit))
                if commits.count == Self.applyBatchLimit {
                    try applyLogged(commits)
                    commits.removeAll()
                }
            }
            try applyLogged(commits)
        }
        // Records SQLite had already may be in WAL frames a killed holder never synced.
        if !records.isEmpty { try walSync.sync() }
        return (log, missing.last?.commit ?? head)
    }
}
