// A transaction's WAL frames go to the file in one write (WALWriteVFS.swift), and transactions too big
// for one write, or for SQLite's page cache, are written whole.

import Foundation
import XCTest
@testable import Store

final class WALWriteTests: XCTestCase {
    private let directory = TemporaryDirectory()

    private func writes() -> Int { WALWriteVFS.writes.load(ordering: .relaxed) }

    func testAOneObjectCommitWritesTheWALOnce() throws {
        XCTAssertNotNil(WALWriteVFS.name)
        let store = try SQLiteStore.open(path: directory.file("once.lo"), create: true, sharedLog: false)
        let oid = try store.allocateOIDs(count: 1).lowerBound
        var head = try store.headCommit()
        func commit(_ value: Int) throws {
            head = try store.commit(base: head, writes: [StoredObject(oid: oid, classOID: oid, format: 1, slots: [smallInteger(value)])],
                                    author: "t", message: "one")
        }
        for value in 1...3 { try commit(value) }
        let before = writes()
        for value in 4...13 { try commit(value) }
        XCTAssertEqual(writes() - before, 10, "one write per commit (its two frames, header and page each)")
        XCTAssertEqual(try store.load(oid: oid, asOf: head)?.slots, [smallInteger(13)])
    }

    /// A commit of thousands of objects: its frames go out in several writes of at most 128 KB (what
    /// SQLite's unix VFS can write at once), and with a page cache of a few pages SQLite spills pages
    /// before the commit, then writes some of them again and re-reads frames for their checksums.
    func testTransactionsBiggerThanOneWriteAndThanThePageCacheAreWrittenWhole() throws {
        let path = directory.file("big.lo")
        let store = try SQLiteStore.open(path: path, create: true, sharedLog: false)
        let oids = try store.allocateOIDs(count: 4000)
        func objects(_ round: Int) -> [StoredObject] {
            oids.map { oid in
                StoredObject(oid: oid, classOID: oids.lowerBound, format: 1,
                             slots: (0..<25).map { smallInteger(Int(oid) * 100 + $0 + round) })
            }
        }
        var head = try store.commit(base: try store.headCommit(), writes: objects(0), author: "t", message: "big")
        try store.writer.withLock { try $0.execute("PRAGMA cache_size = 8") }
        head = try store.commit(base: head, writes: objects(1), author: "t", message: "spilled")
        head = try store.commit(base: head, writes: Array(objects(2).prefix(10)), author: "t", message: "small")

        let reopened = try SQLiteStore.open(path: path, sharedLog: false)
        XCTAssertEqual(try reopened.check(), [])
        let read = try reopened.load(oids: Array(oids), asOf: head)
        let expected = Array(objects(2).prefix(10) + objects(1).dropFirst(10))
        XCTAssertEqual(read.count, expected.count)
        for (object, expected) in zip(read, expected) where object != expected {
            XCTFail("object \(object.oid) read back as \(object), written as \(expected)")
            break
        }
    }
}
