// Committing: optimistic conflict checks against the base snapshot, then every write tagged with a
// new commit id, all in one SQLite write transaction shared by the commits queued together.

import Foundation

extension SQLiteStore {
    /// Writes new versions of objects, root bindings, method versions and class shapes (those not
    /// recorded yet: a shape is never replaced) atomically, as a new commit on top of the snapshot
    /// `base`. If a commit after `base` wrote any of the same objects or roots, throws `CommitConflict`
    /// and writes nothing. Other errors (`StoreError.diskFull`…) also leave the store as it was: keep
    /// the data and retry. With `gcGeneration` (GCGeneration.swift), a gc since that generation
    /// refuses the commit (`collectedMeanwhile`).
    public func commit(base: CommitID, writes: [StoredObject], roots: [String: UInt64] = [:],
                       removingRoots: [String] = [], methodVersions: [MethodChange] = [], shapes: [ClassShape] = [],
                       author: String, message: String, gcGeneration: UInt32? = nil) throws -> CommitID {
        let request = try CommitRequest(base: base, writes: writes, roots: roots, removingRoots: removingRoots,
                                        methods: methodVersions, shapes: shapes, author: author, message: message,
                                        gcGeneration: gcGeneration)
        let ticket = CommitTicket(request)
        if let gathering = commitQueue.enqueue(ticket), case let .finished(result) = gathering.wait(for: ticket) {
            return try result.get()
        }
        return try lead(ticket)
    }

    /// How many SQLite transactions (batches) carried how many commits since the store was opened.
    public var groupCommitStatistics: (batches: Int, commits: Int) { commitQueue.statistics }

    /// Writes batches while commits keep queueing (a few rounds, so that the leader's own caller is not
    /// held up for long), then hands the lead to a waiting thread. Each batch is written in the writers'
    /// turn shared with other processes (WriterTurn.swift) and synced after SQLite's write lock and the
    /// turn are released (WALSync.swift), so other processes write while this one syncs; or, in a store
    /// opened exclusively, appended to the commit log and synced there (LogCommits.swift), or to the log
    /// shared by processes (SharedLogCommits.swift).
    private func lead(_ own: CommitTicket) throws -> CommitID {
        var ownResult: Result<CommitID, any Error>?
        for round in 1... {
            let (batch, gathering) = commitQueue.takeBatch()
            let results = if let exclusiveLog {
                logBatch(batch.map(\.request), exclusiveLog)
            } else if let sharedLog {
                logSharedBatch(batch.map(\.request), sharedLog)
            } else {
                writeBatch(batch)
            }
            for (ticket, result) in zip(batch, results) {
                if ticket === own { ownResult = result } else { ticket.finish(result) }
            }
            gathering.wakeAll()
            guard let next = commitQueue.nextGathering() else { break }
            if round == 4 {
                next.offerLead()
                break
            }
        }
        return try ownResult!.get()
    }

    /// One batch in one SQLite transaction, then the WAL synced.
    private func writeBatch(_ batch: [CommitTicket]) -> [Result<CommitID, any Error>] {
        var holdsSnapshot = false
        var results = writer.withLock { connection in
            defer { holdsSnapshot = connection.holdsSnapshot }
            let group = walSync.group
            guard let turn = group?.takeWriterTurn(beforeWaiting: connection.releaseSnapshot) else {
                return runBatch(batch, connection)
            }
            connection.othersWrite(turn.othersWrite)
            let results = runBatch(batch, connection)
            group!.endWriterTurn(turn, committed: results.contains { if case .success = $0 { true } else { false } })
            return results
        }
        if holdsSnapshot { releaseSnapshotWhenIdle() }
        if results.contains(where: { if case .success = $0 { true } else { false } }) {
            do {
                try walSync.sync()
            } catch {
                results = results.map { if case .success = $0 { .failure(error) } else { $0 } }
            }
        }
        return results
    }

    /// Once commits stop coming, the writer lets go of the read transaction its commits keep open
    /// (HeldSnapshot.swift): one timer at a time, checking again while commits keep coming.
    func releaseSnapshotWhenIdle() {
        guard !snapshotReleaseScheduled.exchange(true, ordering: .acquiringAndReleasing) else { return }
        DispatchQueue.global().asyncAfter(deadline: .now() + HeldSnapshot.idleRelease) { [weak self] in
            guard let self else { return }
            snapshotReleaseScheduled.store(false, ordering: .releasing)
            // A commit holding the lock is not idle: look again later rather than wait for it.
            if writer.withLockIfAvailable({ $0.releaseSnapshotIfIdle() }) ?? true { releaseSnapshotWhenIdle() }
        }
    }

    /// One transaction for the batch; a request that conflicts is left out of it. If the transaction
    /// itself fails (disk full, I/O), each request is retried alone so the error goes to its owner.
    /// The WAL is not synced yet: the caller does that.
    private func runBatch(_ tickets: [CommitTicket], _ connection: Connection) -> [Result<CommitID, any Error>] {
        if tickets.count > 1 {
            do {
                return try transaction(connection) {
                    var batch = try BatchState(bases: tickets.lazy.map(\.request.base), connection)
                    let results = try tickets.map { ticket -> Result<CommitID, any Error> in
                        do {
                            return .success(try apply(ticket.request, &batch, connection))
                        } catch let conflict as CommitConflict {
                            return .failure(conflict)
                        } catch let collected as StoreError where collected == .collectedMeanwhile(path: path) {
                            return .failure(collected)
                        }
                    }
                    return (results, batch)
                }
            } catch {}
        }
        return tickets.map { ticket in
            Result {
                try transaction(connection) {
                    var batch = try BatchState(bases: CollectionOfOne(ticket.request.base), connection)
                    return (try apply(ticket.request, &batch, connection), batch)
                }
            }
        }
    }

    /// A commit transaction (its WAL not synced yet), which leaves the connection's `CommitCache` with
    /// what the batch knows at its end, or empty if it failed.
    func transaction<T>(_ connection: Connection, holdingSnapshot: Bool = true, _ body: () throws -> (T, BatchState)) throws -> T {
        do {
            let (result, batch) = try connection.transaction(immediate: true, deferringSync: true, holdingSnapshot: holdingSnapshot, body)
            connection.commitCache.committed(batch, connection)
            return result
        } catch {
            connection.commitCache.forget()
            throw error
        }
    }

    /// Checks then writes one commit inside the open transaction. The checks write nothing.
    private func apply(_ request: CommitRequest, _ batch: inout BatchState, _ connection: Connection) throws -> CommitID {
        let head = batch.head
        guard request.base <= head else { throw StoreError.noSuchCommit(request.base) }
        if request.gcGeneration != nil { try checkGCGeneration(request, current: batch.gcGeneration(connection)) }
        if request.base < head {
            if let recent = batch.recentWrites, recent.since <= request.base {
                if let rollback = try batch.lastRollback(connection), request.base < rollback {
                    throw CommitConflict(oids: [], roots: [], rollback: rollback)
                }
                try recent.checkConflicts(request)
            } else {
                try checkConflicts(request, connection)
            }
        }
        for large in request.largeBytes { try checkComplete(large, connection) }
        let id = CommitID(head.rawValue + 1)
        try insert(request, as: id, time: Date().timeIntervalSince1970, connection)
        batch.record(request, as: id)
        return id
    }

    /// Writes every row of a checked commit (in the caller's transaction).
    func insert(_ request: CommitRequest, as id: CommitID, time: Double, _ connection: Connection) throws {
        try insertCommitRow(request, id: id, time: time, connection)
        try insertObjects(request, commit: id, connection)
        try Self.noteInstances(request, connection)
        if !request.roots.isEmpty { try insertRoots(request.roots, commit: id, connection) }
        if !request.methods.isEmpty { try insertMethods(request.methods, commit: id, connection) }
        try Self.insert(request.shapes, commit: id, connection)
    }

    /// The commit's row; its texts and changed-object list are bound without a copy, for the run only.
    private func insertCommitRow(_ request: CommitRequest, id: CommitID, time: Double, _ connection: Connection) throws {
        let insert = try connection.statement(.insertCommit)
        defer { insert.reset() }
        insert.bind(1, id.rawValue)
        insert.bind(2, time)
        insert.bind(5, Int64(request.writes.count))
        var author = request.author, message = request.message
        try author.withUTF8 { author in
            try message.withUTF8 { message in
                try request.changed.withUnsafeBytes { changed in
                    insert.bindWithoutCopy(3, text: author)
                    insert.bindWithoutCopy(4, text: message)
                    insert.bindWithoutCopy(6, changed)
                    try insert.run()
                }
            }
        }
    }

    private func insertRoots(_ roots: [(name: String, oid: UInt64?)], commit id: CommitID, _ connection: Connection) throws {
        let insertRoot = try connection.statement(.insertRoot)
        for (name, oid) in roots {
            insertRoot.reset()
            insertRoot.bind(1, name)
            insertRoot.bind(2, id.rawValue)
            if let oid { insertRoot.bind(3, oid) } else { insertRoot.bindNull(3) }
            try insertRoot.run()
        }
    }

    private func insertMethods(_ methods: [MethodChange], commit id: CommitID, _ connection: Connection) throws {
        let insertMethod = try connection.statement(
            "INSERT INTO methods (class_name, selector, class_oid, category, source, commit_id) VALUES (?, ?, ?, ?, ?, ?)")
        for method in methods {
            insertMethod.reset()
            insertMethod.bind(1, method.className)
            insertMethod.bind(2, method.selector)
            if let classOID = method.classOID { insertMethod.bind(3, classOID) } else { insertMethod.bindNull(3) }
            insertMethod.bind(4, method.category)
            insertMethod.bind(5, method.source)
            insertMethod.bind(6, id.rawValue)
            try insertMethod.run()
        }
    }

    /// Throws `CommitConflict` if a commit after the base wrote one of the request's objects or roots.
    func checkConflicts(_ request: CommitRequest, _ connection: Connection) throws {
        if let rollback = try Self.lastRollback(connection), request.base < rollback {
            throw CommitConflict(oids: [], roots: [], rollback: rollback)
        }
        let conflicting = try conflictingWrites(request, connection)
        var conflictingRoots: [String] = []
        if !request.roots.isEmpty {
            let query = try connection.statement("SELECT DISTINCT name FROM roots WHERE commit_id > ?")
            query.bind(1, request.base.rawValue)
            var changedRoots: Set<String> = []
            while try query.step() { changedRoots.insert(query.string(0)) }
            conflictingRoots = request.roots.map(\.name).filter(changedRoots.contains).sorted()
        }
        if !conflicting.isEmpty || !conflictingRoots.isEmpty {
            throw CommitConflict(oids: conflicting, roots: conflictingRoots)
        }
    }

    /// The request's objects that a commit after its base wrote too, in the request's order. Few changes
    /// since the base (under several processes, a few commits of one object each): their changed-OID
    /// lists, read in one query; many: one seek per write.
    private func conflictingWrites(_ request: CommitRequest, _ connection: Connection) throws -> [UInt64] {
        let decodeAtMost = 4 * Int64(request.writes.count) + 256
        let changes = try connection.statement(.changesSince)
        defer { changes.reset() }
        changes.bind(1, request.base.rawValue)
        var changedSince: Int64 = 0, oids: [UInt64] = []
        var written = [Bool](repeating: false, count: request.writes.count)
        while try changes.step() {
            changedSince += changes.int64(0)
            if changedSince > decodeAtMost { return try probedConflicts(request, connection) }
            oids.removeAll(keepingCapacity: true)
            guard OIDList.decode(changes.blob(1), into: &oids) else {
                throw StoreError.corrupt(path: path, detail: "a changed-object list after \(request.base) cannot be decoded")
            }
            for oid in oids {
                if let index = request.writeIndex(of: oid) { written[index] = true }
            }
        }
        return zip(request.writes, written).compactMap { $1 ? $0.oid : nil }
    }

    private func probedConflicts(_ request: CommitRequest, _ connection: Connection) throws -> [UInt64] {
        let probe = try connection.statement("SELECT 1 FROM objects WHERE oid = ? AND commit_id > ? LIMIT 1")
        var conflicting: [UInt64] = []
        for write in request.writes {
            probe.reset()
            probe.bind(1, write.oid)
            probe.bind(2, request.base.rawValue)
            if try probe.step() { conflicting.append(write.oid) }
        }
        return conflicting
    }

    func changedOIDs(after base: CommitID, through last: CommitID? = nil, _ connection: Connection) throws -> Set<UInt64> {
        let query = try connection.statement("SELECT changed FROM commits WHERE id > ? AND id <= ?")
        query.bind(1, base.rawValue)
        query.bind(2, (last ?? CommitID(Int64.max)).rawValue)
        var oids: [UInt64] = []
        while try query.step() {
            guard OIDList.decode(query.blob(0), into: &oids) else {
                throw StoreError.corrupt(path: path, detail: "a changed-object list after \(base) cannot be decoded")
            }
        }
        return Set(oids)
    }
}
