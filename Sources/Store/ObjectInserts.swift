// Writing a commit's object versions: most rows go in by statements of many rows each, so that
// SQLite's work per statement (start, halt, reset) is shared; records are bound without a copy.

extension SQLiteStore {
    /// Rows per statement: beyond a few dozen the gain is gone.
    static let rowsPerInsert = 32

    /// Inserts the versions `request` writes as commit `id` (in the caller's transaction). Records
    /// with long contents, and bytes stored out of line, go in one at a time.
    func insertObjects(_ request: CommitRequest, commit id: CommitID, _ connection: Connection) throws {
        func isShort(_ w: CommitRequest.Write) -> Bool {
            w.outOfLine == nil && w.record.count - w.headerLength <= Self.inlineContentsLimit
        }
        let one = try connection.statement(.insertObject)
        // No more records than a statement's rows (one, most often): all one at a time.
        let many = request.writes.count > Self.rowsPerInsert ? try connection.statement(.insertObjects) : nil
        try request.records.withUnsafeBytes { records in
            defer { many?.reset() }
            func header(_ w: CommitRequest.Write) -> UnsafeRawBufferPointer {
                UnsafeRawBufferPointer(rebasing: records[w.record.lowerBound..<w.record.lowerBound + w.headerLength])
            }
            func contents(_ w: CommitRequest.Write) -> UnsafeRawBufferPointer {
                UnsafeRawBufferPointer(rebasing: records[w.record.lowerBound + w.headerLength..<w.record.upperBound])
            }
            var bound = 0
            for write in request.writes {
                if let object = write.outOfLine {
                    let record = try storeOutOfLine(object, connection)
                    one.bind(1, write.oid)
                    one.bind(2, id.rawValue)
                    try Self.run(one, binding: record, at: 3, connection)
                } else if many == nil || !isShort(write) {
                    one.bind(1, write.oid)
                    one.bind(2, id.rawValue)
                    try Self.run(one, header: header(write), contents: contents(write), at: 3, connection)
                } else if let many {  // short
                    let first = 4 * bound + 1
                    many.bind(first, write.oid)
                    many.bind(first + 1, id.rawValue)
                    many.bindWithoutCopy(first + 2, header(write))
                    many.bindWithoutCopy(first + 3, contents(write))
                    bound += 1
                    if bound == Self.rowsPerInsert {
                        try many.run()
                        many.reset()
                        bound = 0
                    }
                }
            }
            // The last short records, fewer than a statement's rows, one at a time.
            var rest = bound
            for write in request.writes.reversed() where isShort(write) {
                if rest == 0 { break }
                one.bind(1, write.oid)
                one.bind(2, id.rawValue)
                try Self.run(one, header: header(write), contents: contents(write), at: 3, connection)
                rest -= 1
            }
        }
    }
}
