// What the writer connection knows from its own commits: the head, what they wrote (for the conflict
// checks of later commits), and which (class, block) bits of the instances index are set. Valid only
// while nobody else wrote: SQLite's data version of the file
// (`SQLITE_FCNTL_DATA_VERSION`) changes with every transaction committed on this connection and
// whenever a transaction begins after another connection (of this process or another) committed
// (that is when SQLite drops its page cache). So a commit that finds the version it left after its
// own last commit reads neither `max(id)`, nor the changed lists of the commits after its base, nor,
// for objects rewritten with the class they had, the instances index. Any other write on this connection (vacuum, rollback, OID allocation…) changes the
// version too, and any failed transaction forgets everything.

import CSQLite

struct CommitCache {
    private struct Block: Hashable {
        let classOID: UInt64, block: UInt64
    }

    /// The head and data version after this connection's last commit; nil when unknown.
    private var known: (head: CommitID, version: UInt32)?
    /// What the commits after some commit wrote, through `known.head`.
    private var recentWrites: RecentWrites?
    private static let recentLimit = 10_000
    /// Bits the instances index has (a subset: those this connection's commits noted since `known`).
    private var notedInstances: [Block: UInt64] = [:]
    private static let notedLimit = 4096

    /// The head, inside a `BEGIN IMMEDIATE` transaction (whose snapshot is the newest, and stays so).
    mutating func head(_ connection: Connection) throws -> CommitID {
        if let known, known.version == connection.dataVersion { return known.head }
        forget()
        return try SQLiteStore.head(connection)
    }

    /// What the commits after some commit wrote, through the head (after `head`); the batch that
    /// takes it gives it back to `committed`.
    mutating func takeRecentWrites() -> RecentWrites? {
        defer { recentWrites = nil }
        return recentWrites
    }

    /// Whether the instances index is known to have these bits already.
    func hasNoted(classOID: UInt64, block: UInt64, bits: UInt64) -> Bool {
        guard let noted = notedInstances[Block(classOID: classOID, block: block)] else { return false }
        return noted & bits == bits
    }

    /// After an upsert of these bits, inside the transaction (which, if it fails, calls `forget`).
    mutating func noted(classOID: UInt64, block: UInt64, bits: UInt64) {
        if notedInstances.count >= Self.notedLimit { notedInstances.removeAll(keepingCapacity: true) }
        notedInstances[Block(classOID: classOID, block: block), default: 0] |= bits
    }

    /// After this connection committed `batch`, whose last commit is the newest.
    mutating func committed(_ batch: BatchState, _ connection: Connection) {
        known = (batch.head, connection.dataVersion)
        if let recent = batch.recentWrites, recent.count <= Self.recentLimit {
            recentWrites = recent
        } else {
            recentWrites = RecentWrites(since: batch.head)
        }
    }

    mutating func forget() {
        known = nil
        recentWrites = nil
        if !notedInstances.isEmpty { notedInstances.removeAll(keepingCapacity: true) }
    }
}

extension Connection {
    /// SQLite's count of changes to the main database file seen by this connection (see CommitCache).
    var dataVersion: UInt32 {
        var version: UInt32 = 0
        sqlite3_file_control(raw, "main", SQLITE_FCNTL_DATA_VERSION, &version)
        return version
    }
}
