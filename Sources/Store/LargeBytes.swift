// Byte objects too big for one row: kept in 256 KB chunks, written from and read into a stream so
// that a gigabyte moves through a few megabytes of memory.

import Foundation
import Synchronization

extension SQLiteStore {
    /// Stores bytes out of line, reading them from `read` (fill the buffer, return the count; 0 = end).
    /// Returns a handle to put in an object's contents (`.largeBytes`) in a later `commit`; until then
    /// the bytes belong to no object, and `vacuum` drops them once older than its retention window.
    /// Written in several transactions, so other commits proceed meanwhile.
    public func writeLargeBytes(from read: (UnsafeMutableRawBufferPointer) throws -> Int) throws -> LargeBytes {
        let chunksPerTransaction = 16
        let id = try write { connection in
            let insert = try connection.statement("INSERT INTO large_bytes VALUES (NULL, -1, -1, ?)")
            insert.bind(1, Date().timeIntervalSince1970)
            try insert.run()
            return connection.lastInsertRowID
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.chunkSize * chunksPerTransaction, alignment: 16)
        defer { buffer.deallocate() }
        var byteCount = 0, chunkCount = 0
        do {
            var atEnd = false
            while !atEnd {
                var filled = 0
                while filled < buffer.count {
                    let count = try read(UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
                    guard count > 0 else {
                        atEnd = true
                        break
                    }
                    filled += count
                }
                let firstChunk = chunkCount
                try write { connection in
                    let insert = try connection.statement("INSERT INTO chunks VALUES (?, ?, ?)")
                    for (index, start) in stride(from: 0, to: filled, by: Self.chunkSize).enumerated() {
                        insert.reset()
                        insert.bind(1, id)
                        insert.bind(2, Int64(firstChunk + index))
                        insert.bind(3, UnsafeRawBufferPointer(rebasing: buffer[start..<min(filled, start + Self.chunkSize)]))
                        try insert.run()
                    }
                }
                chunkCount += (filled + Self.chunkSize - 1) / Self.chunkSize
                byteCount += filled
            }
            try write { connection in
                let finish = try connection.statement("UPDATE large_bytes SET byte_count = ?, chunk_count = ? WHERE id = ?")
                finish.bind(1, Int64(byteCount))
                finish.bind(2, Int64(chunkCount))
                finish.bind(3, id)
                try finish.run()
            }
        } catch {
            abandonLargeBytes(id)
            throw error
        }
        return LargeBytes(id: id, count: byteCount)
    }

    /// Tests: while set, deleting the chunks of an import that failed fails, as on a full disk.
    static let cleanupFailsForTests = Atomic<Bool>(false)

    /// The chunks of an import that failed go. On a full disk that delete may fail too (it needs room
    /// in the WAL): then the bytes are marked staged at time 0, a one-row change that may still fit,
    /// so that the next `vacuum` drops them whatever its window (they lingered for its 30 days).
    private func abandonLargeBytes(_ id: Int64) {
        let deleted = !Self.cleanupFailsForTests.load(ordering: .relaxed)
            && (try? write { try Self.deleteLargeBytes(id, $0) }) != nil
        if deleted { return }
        _ = try? write { connection in
            let mark = try connection.statement("UPDATE large_bytes SET staged = 0 WHERE id = ?")
            mark.bind(1, id)
            try mark.run()
        }
    }

    /// Streams the bytes of a byte object as of `snapshot`: large ones chunk by chunk, small ones at once.
    public func readLargeBytes(oid: UInt64, asOf snapshot: CommitID,
                               into body: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard let object = try load(oid: oid, asOf: snapshot) else {
            throw StoreError.objectsNotFound(oids: [oid], asOf: snapshot)
        }
        switch object.contents {
        case let .bytes(bytes): try bytes.withUnsafeBytes(body)
        case let .largeBytes(large): try readLargeBytes(large, into: body)
        case .slots: throw StoreError.invalidRequest("object \(oid) is not a byte object")
        }
    }

    /// Streams out-of-line bytes chunk by chunk; each buffer is valid only during the call.
    public func readLargeBytes(_ large: LargeBytes, into body: (UnsafeRawBufferPointer) throws -> Void) throws {
        try withReader { connection in
            try checkComplete(large, connection)
            let query = try connection.statement("SELECT data FROM chunks WHERE large_id = ? ORDER BY seq")
            query.bind(1, large.id)
            while try query.step() { try body(query.blob(0)) }
        }
    }

    /// Copies the bytes `offset..<offset + buffer.count` of out-of-line bytes into `buffer`, reading only
    /// the chunks that hold them (every chunk but the last is `chunkSize` long).
    public func readLargeBytes(_ large: LargeBytes, at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws {
        guard offset >= 0, offset <= large.count, buffer.count <= large.count - offset else {
            throw StoreError.invalidRequest(
                "bytes \(offset + 1) to \(offset + buffer.count) of large bytes \(large.id), which has \(large.count) bytes")
        }
        try withReader { connection in
            try checkComplete(large, connection)
            guard let destination = buffer.baseAddress, !buffer.isEmpty else { return }
            let end = offset + buffer.count
            let query = try connection.statement("SELECT seq, data FROM chunks WHERE large_id = ? AND seq >= ? AND seq <= ? ORDER BY seq")
            query.bind(1, large.id)
            query.bind(2, Int64(offset / Self.chunkSize))
            query.bind(3, Int64((end - 1) / Self.chunkSize))
            var next = offset / Self.chunkSize
            while try query.step() {
                let start = next * Self.chunkSize, data = query.blob(1)
                guard query.int64(0) == Int64(next), data.count == min(Self.chunkSize, large.count - start), let source = data.baseAddress else {
                    throw StoreError.corrupt(path: path, detail: "chunk \(next) of large bytes \(large.id) is missing or not \(Self.chunkSize) bytes")
                }
                let from = max(offset, start), to = min(end, start + data.count)
                (destination + (from - offset)).copyMemory(from: source + (from - start), byteCount: to - from)
                next += 1
            }
            guard next == (end - 1) / Self.chunkSize + 1 else {
                throw StoreError.corrupt(path: path, detail: "chunk \(next) of large bytes \(large.id) is missing")
            }
        }
    }

    /// Writes the bytes of an object out of line inside a commit's transaction; returns its record.
    func storeOutOfLine(_ object: StoredObject, _ connection: Connection) throws -> EncodedRecord {
        guard case let .bytes(bytes) = object.contents else { preconditionFailure("only byte objects go out of line") }
        let insertLarge = try connection.statement("INSERT INTO large_bytes VALUES (NULL, ?, ?, ?)")
        let chunkCount = (bytes.count + Self.chunkSize - 1) / Self.chunkSize
        insertLarge.bind(1, Int64(bytes.count))
        insertLarge.bind(2, Int64(chunkCount))
        insertLarge.bind(3, Date().timeIntervalSince1970)
        try insertLarge.run()
        let id = connection.lastInsertRowID
        let insertChunk = try connection.statement("INSERT INTO chunks VALUES (?, ?, ?)")
        try bytes.withUnsafeBytes { all in
            for (index, start) in stride(from: 0, to: bytes.count, by: Self.chunkSize).enumerated() {
                insertChunk.reset()
                insertChunk.bind(1, id)
                insertChunk.bind(2, Int64(index))
                insertChunk.bind(3, UnsafeRawBufferPointer(rebasing: all[start..<min(bytes.count, start + Self.chunkSize)]))
                try insertChunk.run()
            }
        }
        var large = object
        large.contents = .largeBytes(LargeBytes(id: id, count: bytes.count))
        return EncodedRecord(large)
    }

    func checkComplete(_ large: LargeBytes, _ connection: Connection) throws {
        let query = try connection.statement("SELECT byte_count, chunk_count FROM large_bytes WHERE id = ?")
        query.bind(1, large.id)
        guard try query.step(), query.int64(1) >= 0, query.int64(0) == Int64(large.count) else {
            throw StoreError.invalidRequest("large bytes \(large.id) (\(large.count) bytes) do not exist or are incomplete")
        }
    }

    static func deleteLargeBytes(_ id: Int64, _ connection: Connection) throws {
        for sql in ["DELETE FROM chunks WHERE large_id = ?", "DELETE FROM large_bytes WHERE id = ?"] {
            let delete = try connection.statement(sql)
            delete.bind(1, id)
            try delete.run()
        }
    }
}
