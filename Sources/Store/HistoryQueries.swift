// Reading and extending history: the commit log, changed objects, checkpoints, method versions, rollback.

import Foundation

extension SQLiteStore {
    /// The newest commits first (at most `limit`), optionally only those before `before`.
    public func commits(limit: Int, before: CommitID? = nil) throws -> [CommitInfo] {
        try drainLog()
        return try withReader { connection in
            let query = try connection.statement(
                "SELECT id, time, author, message, object_count FROM commits WHERE id < ? ORDER BY id DESC LIMIT ?")
            query.bind(1, (before ?? CommitID(Int64.max)).rawValue)
            query.bind(2, Int64(limit))
            var commits: [CommitInfo] = []
            while try query.step() {
                commits.append(CommitInfo(id: CommitID(query.int64(0)), time: Date(timeIntervalSince1970: query.double(1)),
                                          author: query.string(2), message: query.string(3), objectCount: Int(query.int64(4))))
            }
            return commits
        }
    }

    /// The objects and roots that the commits after `after` and before `before` wrote (all of them
    /// durable). Those the commit log holds are read from memory, the rest from SQLite, which has
    /// them: nothing waits for the log to be applied, unless this process has not read the log that
    /// far (another process appended those commits).
    public func writes(after: CommitID, before: CommitID) throws -> (oids: Set<UInt64>, roots: Set<String>) {
        if before.rawValue <= after.rawValue + 1 { return ([], []) }
        var oids = Set<UInt64>(), roots = Set<String>()
        /// The newest of the commits SQLite answers for: those before the log's first in the range.
        var fromSQLiteThrough = CommitID(before.rawValue - 1)
        func fromLog(_ id: CommitID, _ keys: LoggedCommit.Keys) {
            guard id > after && id < before else { return }
            fromSQLiteThrough = min(fromSQLiteThrough, CommitID(id.rawValue - 1))
            oids.formUnion(keys.oids)
            roots.formUnion(keys.roots)
        }
        if let exclusive = exclusiveLog {
            exclusive.state.withLock { state in
                for (id, commit) in state.pending where id > after && id < before { fromLog(id, commit.keys) }
            }
        } else if let shared = sharedLog {
            let readThatFar = shared.view.withLock { view -> Bool in
                guard view.log.head.rawValue >= before.rawValue - 1 else { return false }
                for (id, commit) in view.records where id > after && id < before {
                    switch commit {
                    case let .decoded(commit): fromLog(id, commit.keys)
                    case let .encoded(payload): if let keys = LoggedCommit.keys(payload) { fromLog(id, keys) } else { return false }
                    }
                }
                return true
            }
            if !readThatFar {
                (oids, roots) = ([], [])
                fromSQLiteThrough = CommitID(before.rawValue - 1)
                try drainLog()
            }
        }
        if fromSQLiteThrough <= after { return (oids, roots) }
        try withReader { connection in
            oids.formUnion(try changedOIDs(after: after, through: fromSQLiteThrough, connection))
            let query = try connection.statement("SELECT DISTINCT name FROM roots WHERE commit_id > ? AND commit_id <= ?")
            defer { query.reset() }
            query.bind(1, after.rawValue)
            query.bind(2, fromSQLiteThrough.rawValue)
            while try query.step() { roots.insert(query.string(0)) }
        }
        return (oids, roots)
    }

    /// The OIDs a commit wrote, ascending.
    public func changedOIDs(commit: CommitID) throws -> [UInt64] {
        try drainLog()
        return try withReader { connection in
            let query = try connection.statement("SELECT changed FROM commits WHERE id = ?")
            query.bind(1, commit.rawValue)
            guard try query.step() else { throw StoreError.noSuchCommit(commit) }
            var oids: [UInt64] = []
            guard OIDList.decode(query.blob(0), into: &oids) else {
                throw StoreError.corrupt(path: path, detail: "the changed-object list of \(commit) cannot be decoded")
            }
            return oids
        }
    }

    /// Names a commit (replacing an earlier checkpoint of that name). Vacuum keeps what it needs.
    /// A commit whose snapshot vacuum has already thinned out cannot be named.
    public func checkpoint(name: String, commit: CommitID) throws {
        try drainLog()
        try write { connection in
            guard try connection.integer("SELECT 1 FROM commits WHERE id = ?", commit.rawValue) != nil else {
                throw StoreError.noSuchCommit(commit)
            }
            guard try Self.isIntact(commit, connection) else { throw StoreError.snapshotReclaimed(commit) }
            // One checkpoint per name as Swift compares them (canonical equivalence: "café" composed
            // or decomposed), kept composed; older rows of another form of the name are replaced too.
            let names = try connection.statement("SELECT name FROM checkpoints")
            var equivalent: [String] = []
            while try names.step() {
                let old = names.string(0)
                if old == name { equivalent.append(old) }
            }
            names.reset()
            let delete = try connection.statement("DELETE FROM checkpoints WHERE name = ?")
            for old in equivalent {
                delete.reset()
                delete.bind(1, old)
                try delete.run()
            }
            let insert = try connection.statement("INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?)")
            insert.bind(1, name.precomposedStringWithCanonicalMapping)
            insert.bind(2, commit.rawValue)
            insert.bind(3, Date().timeIntervalSince1970)
            try insert.run()
        }
    }

    public func removeCheckpoint(name: String) throws {
        try write { connection in
            let delete = try connection.statement("DELETE FROM checkpoints WHERE name = ?")
            delete.bind(1, name)
            try delete.run()
        }
    }

    /// The oldest commit of the last vacuum's window: every snapshot from it to the head is whole;
    /// older ones only at named checkpoints. Commit 1 if vacuum never ran.
    public func historyHorizon() throws -> CommitID {
        try withReader { try Self.horizon($0) }
    }

    /// Whether every object version of the snapshot `commit` is still there (see `historyHorizon`).
    /// `load(asOf:)` of a snapshot that is not may answer versions of other snapshots.
    public func isIntact(_ commit: CommitID) throws -> Bool {
        try drainLog()
        return try withReader { try Self.isIntact(commit, $0) }
    }

    static func horizon(_ connection: Connection) throws -> CommitID {
        CommitID(try connection.integer("SELECT value FROM meta WHERE key = 'vacuum_horizon'") ?? 1)
    }

    static func isIntact(_ commit: CommitID, _ connection: Connection) throws -> Bool {
        try commit >= horizon(connection)
            || connection.integer("SELECT 1 FROM checkpoints WHERE commit_id = ?", commit.rawValue) != nil
    }

    /// Records that snapshots before `commit` may have been thinned out (the horizon never moves back).
    static func raiseHorizon(to commit: CommitID, _ connection: Connection) throws {
        guard try commit > horizon(connection) else { return }
        let update = try connection.statement(
            "INSERT INTO meta VALUES ('vacuum_horizon', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        update.bind(1, commit.rawValue)
        try update.run()
    }

    /// Every named checkpoint, oldest commit first.
    public func checkpoints() throws -> [Checkpoint] {
        try withReader { connection in
            let query = try connection.statement("SELECT name, commit_id, time FROM checkpoints ORDER BY commit_id, name")
            var checkpoints: [Checkpoint] = []
            while try query.step() {
                checkpoints.append(Checkpoint(name: query.string(0), commit: CommitID(query.int64(1)),
                                              time: Date(timeIntervalSince1970: query.double(2))))
            }
            return checkpoints
        }
    }

    /// The recorded versions of a method, newest first.
    public func methodVersions(className: String, selector: String) throws -> [MethodVersion] {
        try drainLog()
        return try withReader { connection in
            let query = try connection.statement("""
                SELECT m.class_oid, m.category, m.source, c.author, c.time, m.commit_id
                FROM methods m JOIN commits c ON c.id = m.commit_id
                WHERE m.class_name = ? AND m.selector = ? ORDER BY m.commit_id DESC, m.id DESC
                """)
            query.bind(1, className)
            query.bind(2, selector)
            var versions: [MethodVersion] = []
            while try query.step() {
                let method = MethodChange(className: className, classOID: query.isNull(0) ? nil : query.uint64(0),
                                          selector: selector, category: query.isNull(1) ? nil : query.string(1),
                                          source: query.string(2))
                versions.append(MethodVersion(method: method, author: query.string(3),
                                              time: Date(timeIntervalSince1970: query.double(4)), commit: CommitID(query.int64(5))))
            }
            return versions
        }
    }

    /// Commits the state as of `target` anew: every object written since gets its version as of
    /// `target` as a new version, and every root changed since gets its old binding back. Objects
    /// created after `target` stay (unreachable, unless something still refers to them). History is
    /// kept: the rollback is one more commit, which can itself be rolled back. A snapshot vacuum has
    /// thinned out (`isIntact`) throws `snapshotReclaimed`.
    public func rollback(to target: CommitID, author: String) throws -> CommitID {
        try withLogDrained { log in
            if let sharedLog { return try sharedCommitOutsideTheLog(sharedLog) { try rollbackInSQLite(to: target, author: author) } }
            let id = try rollbackInSQLite(to: target, author: author)
            // A commit outside the log: the log starts after it (its transaction synced SQLite's WAL).
            if let log, let exclusiveLog {
                try log.reset(base: id)
                exclusiveLog.committedOutsideTheLog(id)
            }
            return id
        }
    }

    /// The `meta` key of the newest rollback's commit: every commit on a base before it conflicts
    /// (the rollback changed what that base saw in ways its changed list does not name: objects made
    /// after the target are left unreachable, not written).
    static let lastRollbackKey = "last_rollback"

    static func lastRollback(_ connection: Connection) throws -> CommitID? {
        try connection.integer("SELECT value FROM meta WHERE key = '\(lastRollbackKey)'").map { CommitID($0) }
    }

    func rollbackInSQLite(to target: CommitID, author: String) throws -> CommitID {
        try writer.withLock { connection in
            try connection.transaction(immediate: true) {
                let head = try Self.head(connection)
                guard try connection.integer("SELECT 1 FROM commits WHERE id = ?", target.rawValue) != nil, target <= head else {
                    throw StoreError.noSuchCommit(target)
                }
                guard try Self.isIntact(target, connection) else { throw StoreError.snapshotReclaimed(target) }
                let id = CommitID(head.rawValue + 1)
                let versionAsOf = try connection.statement(
                    "SELECT header, contents FROM objects WHERE oid = ? AND commit_id <= ? ORDER BY commit_id DESC LIMIT 1")
                let insert = try connection.statement("INSERT INTO objects VALUES (?, ?, ?, ?)")
                var restored: [UInt64] = []
                for oid in try changedOIDs(after: target, connection).sorted() {
                    versionAsOf.reset()
                    versionAsOf.bind(1, oid)
                    versionAsOf.bind(2, target.rawValue)
                    guard try versionAsOf.step() else { continue }
                    insert.reset()
                    insert.bind(1, oid)
                    insert.bind(2, id.rawValue)
                    insert.bind(3, versionAsOf.blob(0))
                    // Long contents are shared with the old version (vacuum drops them with the last).
                    if versionAsOf.isInteger(1) { insert.bind(4, versionAsOf.int64(1)) } else { insert.bind(4, versionAsOf.blob(1)) }
                    try insert.run()
                    restored.append(oid)
                }
                let then = try Self.roots(connection, asOf: target), now = try Self.roots(connection, asOf: head)
                let insertRoot = try connection.statement("INSERT INTO roots VALUES (?, ?, ?)")
                for name in Set(then.keys).union(now.keys) where then[name] != now[name] {
                    insertRoot.reset()
                    insertRoot.bind(1, name)
                    insertRoot.bind(2, id.rawValue)
                    if let oid = then[name] { insertRoot.bind(3, oid) } else { insertRoot.bindNull(3) }
                    try insertRoot.run()
                }
                let insertCommit = try connection.statement("INSERT INTO commits VALUES (?, ?, ?, ?, ?, ?)")
                insertCommit.bind(1, id.rawValue)
                insertCommit.bind(2, Date().timeIntervalSince1970)
                insertCommit.bind(3, author)
                insertCommit.bind(4, "Rollback to \(target)")
                insertCommit.bind(5, Int64(restored.count))
                insertCommit.bind(6, OIDList.encode(sorted: restored))
                try insertCommit.run()
                try connection.execute("INSERT OR REPLACE INTO meta VALUES ('\(Self.lastRollbackKey)', \(id.rawValue))")
                return id
            }
        }
    }
}
