// Sessions that outlive a gc. A session may hold objects (loaded, or ghosts) that a gc reclaimed after
// another session dropped the last reference to them: committing a new reference to one would leave
// the head referring to nothing. So each gc bumps the store's gc generation, and a session that
// loaded its objects under an older one checks, before it commits, that every object its writes
// refer to still exists (`missingObjects`). The commit carries the generation it checked under, and
// the writer refuses it (`StoreError.collectedMeanwhile`) if a gc ran since: it is checked again.
//
// Where the generation is kept: in SQLite's `meta` table, bumped inside the vacuum's transaction (a
// store without a commit log reads it in each commit's transaction); in a store opened exclusively,
// in memory, changed while the log is held; in a log shared by processes, on the shared page,
// bumped in the writers' turn before and after the vacuum and by whoever takes the turn from a
// holder that died (it may have died after the vacuum's transaction, before its second bump).

import CGroupSync
import Synchronization

extension SQLiteStore {
    /// The store's gc generation now: a session reads it before its snapshot (`headCommit`).
    public func gcGeneration() throws -> UInt32 {
        if let exclusiveLog { return exclusiveLog.gcGeneration.load(ordering: .acquiring) }
        if let sharedLog { return sharedLog.gcGeneration }
        return try withReader { try Self.gcGeneration($0) }
    }

    /// The OIDs among `oids` that no object has (a gc reclaimed them, or they were never committed),
    /// with every durable commit counted.
    public func missingObjects(among oids: some Sequence<UInt64>) throws -> [UInt64] {
        try awaitApplied(headCommit())
        return try withReader { connection in
            let probe = try connection.statement("SELECT 1 FROM objects WHERE oid = ? LIMIT 1")
            var missing: [UInt64] = []
            for oid in Set(oids).sorted() {
                probe.reset()
                probe.bind(1, oid)
                if try !probe.step() { missing.append(oid) }
            }
            return missing
        }
    }

    /// In the writer's turn: refuses a commit checked under another gc generation than `current`.
    func checkGCGeneration(_ request: CommitRequest, current: UInt32) throws {
        if let checked = request.gcGeneration, checked != current { throw StoreError.collectedMeanwhile(path: path) }
    }

    static func gcGeneration(_ connection: Connection) throws -> UInt32 {
        UInt32(truncatingIfNeeded: try connection.integer("SELECT value FROM meta WHERE key = 'gc_generation'") ?? 0)
    }

    /// In the vacuum's transaction.
    static func countCollection(_ connection: Connection) throws {
        try connection.execute("""
            INSERT INTO meta VALUES ('gc_generation', 1)
            ON CONFLICT (key) DO UPDATE SET value = (value + 1) % 4294967296
            """)
    }

    /// Runs a vacuum with the log drained (every commit applied, none can be made meanwhile), telling
    /// the sessions of a log before and after it.
    func collecting<T>(_ vacuum: () throws -> T) throws -> T {
        try withLogDrained { _ in
            announceCollection()
            defer { announceCollection() }
            return try vacuum()
        }
    }

    private func announceCollection() {
        if let exclusiveLog { _ = exclusiveLog.gcGeneration.wrappingAdd(1, ordering: .releasing) }
        if let sharedLog { lo_gc_generation_bump(sharedLog.page.area) }
    }
}
