// The statements every commit runs. A connection finds these in its cache by number: hashing the
// text of each (one of them is 500 characters long) cost more than some of the statements themselves.

struct FrequentSQL: Sendable {
    let number: Int
    let text: String

    private init(_ number: Int, _ text: String) {
        self.number = number
        self.text = text
    }

    static let count = 11

    static let begin = FrequentSQL(0, "BEGIN")
    static let beginImmediate = FrequentSQL(1, "BEGIN IMMEDIATE")
    static let commit = FrequentSQL(2, "COMMIT")
    static let rollback = FrequentSQL(3, "ROLLBACK")
    static let head = FrequentSQL(4, "SELECT max(id) FROM commits")
    static let insertCommit = FrequentSQL(5, "INSERT INTO commits VALUES (?, ?, ?, ?, ?, ?)")
    static let insertObject = FrequentSQL(6, "INSERT INTO objects VALUES (?, ?, ?, ?)")
    static let insertObjects = FrequentSQL(7, "INSERT INTO objects VALUES "
        + Array(repeating: "(?, ?, ?, ?)", count: SQLiteStore.rowsPerInsert).joined(separator: ", "))
    static let insertRoot = FrequentSQL(8, "INSERT INTO roots VALUES (?, ?, ?)")
    static let noteInstances = FrequentSQL(9, """
        INSERT INTO instances VALUES (?, ?, ?) ON CONFLICT (class_oid, block)
        DO UPDATE SET bits = bits | excluded.bits WHERE bits | excluded.bits != bits
        """)
    /// What the commits after a base changed, for a commit's conflict check.
    static let changesSince = FrequentSQL(10, "SELECT object_count, changed FROM commits WHERE id > ?")
}
