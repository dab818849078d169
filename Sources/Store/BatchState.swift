// What the writer knows while it writes one batch of commits: the head, and what recent commits wrote,
// so that each commit's conflict check is a few hash lookups instead of queries. What this
// connection's own commits wrote is kept from one batch to the next (CommitCache.swift).

struct BatchState {
    var head: CommitID
    /// Writes of the commits after the oldest base in the batch; nil when there are too many to hold.
    var recentWrites: RecentWrites?
    /// The store's gc generation, once a commit of the batch asked.
    private var knownGCGeneration: UInt32?
    private var knownLastRollback: CommitID??

    /// For the commits on these bases (at least one), in a `BEGIN IMMEDIATE` transaction.
    init(bases: some Collection<CommitID>, _ connection: Connection) throws {
        head = try connection.commitCache.head(connection)
        let oldestBase = bases.min()!
        if let kept = connection.commitCache.takeRecentWrites(), kept.since <= oldestBase {
            recentWrites = kept
        } else if oldestBase < head {
            // Read only for a batch: a lone commit checks its own writes with a query or two.
            if bases.count > 1 { recentWrites = try RecentWrites(since: oldestBase, connection) }
        } else {
            // What the first requests write, for the conflict checks of those after them.
            recentWrites = RecentWrites(since: head)
        }
    }

    mutating func gcGeneration(_ connection: Connection) throws -> UInt32 {
        if let knownGCGeneration { return knownGCGeneration }
        let generation = try SQLiteStore.gcGeneration(connection)
        knownGCGeneration = generation
        return generation
    }

    /// The newest rollback's commit, once a commit of the batch on a base before the head asked.
    mutating func lastRollback(_ connection: Connection) throws -> CommitID? {
        if let knownLastRollback { return knownLastRollback }
        let rollback = try SQLiteStore.lastRollback(connection)
        knownLastRollback = .some(rollback)
        return rollback
    }

    /// After `request` was written as commit `id`.
    mutating func record(_ request: CommitRequest, as id: CommitID) {
        head = id
        guard let recent = recentWrites else { return }
        if recent.count + request.writes.count > RecentWrites.limit {
            recentWrites = nil  // the commits after this one check theirs with queries
        } else {
            recentWrites!.record(request, as: id)
        }
    }
}

/// For each object and root written after `since`, the newest commit that wrote it.
struct RecentWrites {
    let since: CommitID
    private var objects: [UInt64: CommitID] = [:]
    private var roots: [String: CommitID] = [:]
    static let limit = 100_000

    /// Objects noted.
    var count: Int { objects.count }

    init(since: CommitID) { self.since = since }

    /// Reads the commits after `since`; nil if they wrote more objects than is worth holding.
    init?(since: CommitID, _ connection: Connection) throws {
        self.since = since
        guard try connection.integer("SELECT total(object_count) FROM commits WHERE id > ?", since.rawValue) ?? 0
                <= Int64(Self.limit) else { return nil }
        let commits = try connection.statement("SELECT id, changed FROM commits WHERE id > ? ORDER BY id")
        commits.bind(1, since.rawValue)
        var oids: [UInt64] = []
        while try commits.step() {
            oids.removeAll(keepingCapacity: true)
            guard OIDList.decode(commits.blob(1), into: &oids) else { return nil }
            for oid in oids { objects[oid] = CommitID(commits.int64(0)) }
        }
        let rootWrites = try connection.statement("SELECT name, commit_id FROM roots WHERE commit_id > ? ORDER BY commit_id")
        rootWrites.bind(1, since.rawValue)
        while try rootWrites.step() { roots[rootWrites.string(0)] = CommitID(rootWrites.int64(1)) }
    }

    mutating func record(_ request: CommitRequest, as id: CommitID) {
        for write in request.writes { objects[write.oid] = id }
        for root in request.roots { roots[root.name] = id }
    }

    mutating func record(_ keys: LoggedCommit.Keys, as id: CommitID) {
        for oid in keys.oids { objects[oid] = id }
        for name in keys.roots { roots[name] = id }
    }

    /// Whether a commit on `base` with these keys writes something written after `base`.
    func conflicts(_ keys: LoggedCommit.Keys, base: CommitID) -> Bool {
        keys.oids.contains { objects[$0].map { $0 > base } ?? false } || keys.roots.contains { roots[$0].map { $0 > base } ?? false }
    }

    func checkConflicts(_ request: CommitRequest) throws {
        let oids = request.writes.map(\.oid).filter { objects[$0].map { $0 > request.base } ?? false }
        let names = request.roots.map(\.name).filter { roots[$0].map { $0 > request.base } ?? false }.sorted()
        if !oids.isEmpty || !names.isEmpty { throw CommitConflict(oids: oids, roots: names) }
    }
}
