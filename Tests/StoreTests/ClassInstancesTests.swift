// The instances of a class, found through the `instances` index without reading other records.

import CSQLite
import Foundation
import XCTest
@testable import Store

final class ClassInstancesTests: XCTestCase {
    private let directory = TemporaryDirectory()
    private lazy var store = try! SQLiteStore.open(path: directory.file("image.lo"), create: true)

    private func object(_ oid: UInt64, ofClass classOID: UInt64, _ value: Int = 0) -> StoredObject {
        StoredObject(oid: oid, classOID: classOID, format: 1, slots: [smallInteger(value)])
    }

    func testInstancesAreFoundAsOfEachSnapshot() throws {
        let range = try store.allocateOIDs(count: 6)
        let (foo, bar) = (range.lowerBound, range.lowerBound + 1)
        let (x, y, z, w) = (range.lowerBound + 2, range.lowerBound + 3, range.lowerBound + 4, range.lowerBound + 5)
        let c1 = try store.commit(base: try store.headCommit(),
                                  writes: [object(foo, ofClass: foo), object(bar, ofClass: foo),
                                           object(x, ofClass: foo), object(y, ofClass: bar), object(z, ofClass: foo)],
                                  author: "t", message: "x and z are Foos, y a Bar")
        // y becomes a Foo, z a Bar (as after become:), w is a new Foo.
        let c2 = try store.commit(base: c1, writes: [object(y, ofClass: foo, 1), object(z, ofClass: bar, 1), object(w, ofClass: foo)],
                                  author: "t", message: "classes change")
        XCTAssertEqual(try store.instanceOIDs(ofClass: foo, asOf: c1), [foo, bar, x, z])
        XCTAssertEqual(try store.instanceOIDs(ofClass: bar, asOf: c1), [y])
        XCTAssertEqual(try store.instanceOIDs(ofClass: foo, asOf: c2), [foo, bar, x, y, w])
        XCTAssertEqual(try store.instanceOIDs(ofClass: bar, asOf: c2), [z])
        XCTAssertEqual(try store.instanceOIDs(ofClass: w, asOf: c2), [], "a class without instances")

        // A rollback's new versions are found with the classes they have again.
        let c3 = try store.rollback(to: c1, author: "t")
        XCTAssertEqual(try store.instanceOIDs(ofClass: foo, asOf: c3), [foo, bar, x, z, w], "w was made since and stays")
        XCTAssertEqual(try store.instanceOIDs(ofClass: bar, asOf: c3), [y])
    }

    func testVacuumDropsTheRowsOfDeletedObjects() throws {
        let range = try store.allocateOIDs(count: 3)
        let (root, kept, garbage) = (range.lowerBound, range.lowerBound + 1, range.lowerBound + 2)
        let rootObject = StoredObject(oid: root, classOID: root, format: 1, slots: [ref(kept)])
        let head = try store.commit(base: try store.headCommit(),
                                    writes: [rootObject, object(kept, ofClass: root), object(garbage, ofClass: root)],
                                    roots: ["Smalltalk": root], author: "t", message: "one garbage")
        XCTAssertEqual(try store.instanceOIDs(ofClass: root, asOf: head), [root, kept, garbage])
        try store.vacuum(retain: .zero)
        XCTAssertEqual(try store.instanceOIDs(ofClass: root, asOf: try store.headCommit()), [root, kept])
        let bits = try store.withReader { try $0.integer("SELECT sum(bits) FROM instances") }
        XCTAssertEqual(bits.map(UInt64.init), [root, kept].reduce(0) { $0 | 1 << ($1 & 63) }, "the deleted object's bit is gone")
        XCTAssertEqual(try store.check(), [])
    }

    func testObjectsMadeTogetherTakeOneRowPerClassAndBlockAndRewritesAddNone() throws {
        let count = 1000
        let range = try store.allocateOIDs(count: count + 1)
        let cls = range.lowerBound
        let objects = (0..<UInt64(count + 1)).map { object(cls + $0, ofClass: cls) }
        let c1 = try store.commit(base: try store.headCommit(), writes: objects, author: "t", message: "many")
        // SQLite gets the logged commits in the background: count its rows once it has them all.
        func rows() throws -> Int64? {
            try store.drainLog()
            return try store.withReader { try $0.integer("SELECT count(*) FROM instances") }
        }
        let made = try rows()!
        XCTAssertLessThanOrEqual(made, Int64(count / 64 + 2))
        let c2 = try store.commit(base: c1, writes: objects.prefix(100).map { object($0.oid, ofClass: cls, 7) }, author: "t", message: "again")
        XCTAssertEqual(try rows(), made)
        XCTAssertEqual(try store.instanceOIDs(ofClass: cls, asOf: c2), objects.map(\.oid))
    }

    func testAStoreOfFormatThreeGetsTheIndexWhenOpened() throws {
        let path = directory.file("three.lo")
        let made = try SQLiteStore.open(path: path, create: true)
        let range = try made.allocateOIDs(count: 3)
        let (foo, a, b) = (range.lowerBound, range.lowerBound + 1, range.lowerBound + 2)
        let head = try made.commit(base: try made.headCommit(),
                                   writes: [object(foo, ofClass: foo), object(a, ofClass: foo), object(b, ofClass: a)],
                                   author: "t", message: "three")
        let db = try Connection(path: path, flags: SQLITE_OPEN_READWRITE)
        try db.execute("DROP TABLE instances; PRAGMA user_version = 3; PRAGMA wal_checkpoint(TRUNCATE)")

        let upgraded = try SQLiteStore.open(path: path)
        XCTAssertEqual(try db.integer("PRAGMA user_version"), 4)
        XCTAssertEqual(try upgraded.instanceOIDs(ofClass: foo, asOf: head), [foo, a])
        XCTAssertEqual(try upgraded.instanceOIDs(ofClass: a, asOf: head), [b])
        XCTAssertEqual(try upgraded.check(), [])
    }
}
