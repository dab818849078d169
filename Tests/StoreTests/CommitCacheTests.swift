// The writer remembers the head and the instances-index bits its own commits left (CommitCache.swift);
// whatever else writes the file — another store on it, or another write of its own — makes it read them again.

import XCTest
@testable import Store

final class CommitCacheTests: XCTestCase {
    private let directory = TemporaryDirectory()

    private func object(_ oid: UInt64, ofClass classOID: UInt64, _ value: Int = 0) -> StoredObject {
        StoredObject(oid: oid, classOID: classOID, format: 1, slots: [smallInteger(value)])
    }

    func testACommitAfterAnotherStoreCommittedSeesItsHeadAndItsWrites() throws {
        let path = directory.file("two.lo")
        let first = try SQLiteStore.open(path: path, create: true)
        let second = try SQLiteStore.open(path: path)
        let oid = try first.allocateOIDs(count: 1).lowerBound
        let base = try first.commit(base: try first.headCommit(), writes: [object(oid, ofClass: oid, 1)], author: "t", message: "first")
        let other = try second.commit(base: base, writes: [object(oid, ofClass: oid, 2)], author: "t", message: "second")
        XCTAssertEqual(other.rawValue, base.rawValue + 1)
        XCTAssertThrowsError(try first.commit(base: base, writes: [object(oid, ofClass: oid, 3)], author: "t", message: "stale")) {
            XCTAssertEqual($0 as? CommitConflict, CommitConflict(oids: [oid], roots: []), "\($0)")
        }
        let next = try first.commit(base: other, writes: [object(oid, ofClass: oid, 4)], author: "t", message: "on top")
        XCTAssertEqual(next.rawValue, other.rawValue + 1)
        XCTAssertEqual(try second.load(oid: oid, asOf: try second.headCommit())?.slots, [smallInteger(4)])
    }

    /// A vacuum rebuilds the index from the versions it keeps: an object that has gone back to a class
    /// it had before must be noted under it again, whether the vacuum ran in this store or another.
    func testAnObjectGivenBackItsClassAfterAVacuumIsFoundAsAnInstance() throws {
        let path = directory.file("vacuum.lo")
        let first = try SQLiteStore.open(path: path, create: true)
        let second = try SQLiteStore.open(path: path)
        let range = try first.allocateOIDs(count: 4)
        let (root, object, foo, bar) = (range.lowerBound, range.lowerBound + 1, range.lowerBound + 2, range.lowerBound + 3)
        let rootObject = StoredObject(oid: root, classOID: root, format: 1, slots: [ref(object), ref(foo), ref(bar)])
        var head = try first.commit(base: try first.headCommit(),
                                    writes: [rootObject, self.object(object, ofClass: foo), self.object(foo, ofClass: root),
                                             self.object(bar, ofClass: root)],
                                    roots: ["Smalltalk": root], author: "t", message: "a Foo")
        for vacuuming in [second, first] {
            head = try first.commit(base: head, writes: [self.object(object, ofClass: bar)], author: "t", message: "a Bar")
            try vacuuming.vacuum(retain: .zero)
            XCTAssertEqual(try first.instanceOIDs(ofClass: foo, asOf: try first.headCommit()), [])
            head = try first.commit(base: try first.headCommit(), writes: [self.object(object, ofClass: foo)],
                                    author: "t", message: "a Foo again")
            XCTAssertEqual(try first.instanceOIDs(ofClass: foo, asOf: head), [object],
                           "after a vacuum of the \(vacuuming === first ? "same" : "other") store")
            XCTAssertEqual(try first.check(), [])
        }
    }
}
