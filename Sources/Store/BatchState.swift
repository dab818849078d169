// What the writer knows while it writes one batch of commits: the head, and what recent commits wrote,
// so that each commit's conflict check is a few hash lookups instead of queries.

struct BatchState {
    var head: CommitID
    /// Writes of the commits after the oldest base in the batch; nil when there are too many to hold.
    var recentWrites: RecentWrites?

    /// For the commits on these bases (at least one), in a `BEGIN IMMEDIATE` transaction.
    init(bases: some Collection<CommitID>, _ connection: Connection) throws {
        head = try connection.commitCache.head(connection)
        let oldestBase = bases.min()!
        if oldestBase < head, bases.count > 1 {
            recentWrites = try RecentWrites(since: oldestBase, connection)
        } else if oldestBase >= head, bases.count > 1 {
            // What the first requests write, for the conflict checks of those after them.
            recentWrites = RecentWrites(since: head)
        }
    }
}

/// For each object and root written after `since`, the newest commit that wrote it.
struct RecentWrites {
    let since: CommitID
    private var objects: [UInt64: CommitID] = [:]
    private var roots: [String: CommitID] = [:]
    private static let limit = 100_000

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

    func checkConflicts(_ request: CommitRequest) throws {
        let oids = request.writes.map(\.oid).filter { objects[$0].map { $0 > request.base } ?? false }
        let names = request.roots.map(\.name).filter { roots[$0].map { $0 > request.base } ?? false }.sorted()
        if !oids.isEmpty || !names.isEmpty { throw CommitConflict(oids: oids, roots: names) }
    }
}
