// Long records kept out of the objects B-tree: a WITHOUT ROWID table stores each row inside the
// B-tree, and a seek that compares its key with a row too long for one page reads that row whole.
// So contents longer than `inlineContentsLimit` live in `long_contents`, and the objects row holds
// the id of theirs (an INTEGER where the contents BLOB would be).

import CSQLite

extension SQLiteStore {
    /// Contents up to this many bytes are kept in the objects row (SQLite keeps about 1000 bytes of a
    /// row on a 4 KB page of a WITHOUT ROWID table).
    static let inlineContentsLimit = 900

    /// Runs `insert`, an insert into `objects` whose parameters before `index` are bound, with a
    /// record's header and contents at `index` and `index + 1`; long contents are written to
    /// `long_contents` first and their id bound instead. The record's bytes are bound without a copy,
    /// for as long as the insert runs: the statement is reset (its bindings cleared) before this returns.
    static func run(_ insert: Statement, header: UnsafeRawBufferPointer, contents: UnsafeRawBufferPointer,
                    at index: Int, _ connection: Connection) throws {
        defer { insert.reset() }
        insert.bindWithoutCopy(index, header)
        if contents.count > inlineContentsLimit {
            let long = try connection.statement("INSERT INTO long_contents (data) VALUES (?)")
            long.bind(1, contents)
            try long.run()
            insert.bind(index + 1, connection.lastInsertRowID)
        } else {
            insert.bindWithoutCopy(index + 1, contents)
        }
        try insert.run()
    }

    static func run(_ insert: Statement, binding record: EncodedRecord, at index: Int, _ connection: Connection) throws {
        try record.bytes.withUnsafeBytes { all in
            try run(insert, header: UnsafeRawBufferPointer(rebasing: all[..<record.headerLength]),
                    contents: UnsafeRawBufferPointer(rebasing: all[record.headerLength...]), at: index, connection)
        }
    }

    /// Calls `body` with the contents in column `column` of the row `query` is on, read from
    /// `long_contents` when the row holds their id. The buffer is valid only during the call.
    static func withContents<T>(_ query: Statement, column: Int, _ connection: Connection,
                                _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T {
        guard query.isInteger(column) else { return try body(query.blob(column)) }
        let lookup = try connection.statement("SELECT data FROM long_contents WHERE id = ?")
        lookup.bind(1, query.int64(column))
        defer { lookup.reset() }
        guard try lookup.step() else {
            throw StoreError.corrupt(path: connection.path, detail: "long contents \(query.int64(column)) are missing")
        }
        return try body(lookup.blob(0))
    }

    /// Deletes the long contents no object version refers to any more (after versions were deleted).
    static func dropUnusedLongContents(_ connection: Connection) throws {
        try connection.execute("""
            DELETE FROM long_contents WHERE id NOT IN (SELECT contents FROM objects WHERE typeof(contents) = 'integer')
            """)
    }
}
