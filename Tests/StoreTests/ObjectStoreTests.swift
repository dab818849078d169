// Writing and reading objects, roots, clusters and large bytes through a store file.

import XCTest
@testable import Store

final class ObjectStoreTests: XCTestCase {
    private let directory = TemporaryDirectory()
    private lazy var store = try! SQLiteStore.open(path: directory.file("image.lo"), create: true)

    func testAFreshStoreHasOneCommitAndNoRoots() throws {
        let head = try store.headCommit()
        XCTAssertEqual(head, CommitID(1))
        XCTAssertEqual(try store.roots(asOf: head), [:])
        XCTAssertEqual(try store.commits(limit: 10).map(\.message), ["Store created"])
    }

    func testOIDRangesNeverOverlapAndSurviveReopening() throws {
        let first = try store.allocateOIDs(count: 100)
        let second = try store.allocateOIDs(count: 5)
        XCTAssertEqual(first.count, 100)
        XCTAssertFalse(first.contains(0))
        XCTAssertEqual(second.lowerBound, first.upperBound)
        let reopened = try SQLiteStore.open(path: store.path)
        XCTAssertEqual(try reopened.allocateOIDs(count: 1).lowerBound, second.upperBound)
        XCTAssertThrowsError(try store.allocateOIDs(count: 0))
    }

    func testObjectsRoundTripThroughTheFile() throws {
        let oids = try store.allocateOIDs(count: 4)
        let (nilOID, array, string, counter) = (oids.lowerBound, oids.lowerBound + 1, oids.lowerBound + 2, oids.lowerBound + 3)
        let objects = [
            StoredObject(oid: nilOID, classOID: nilOID, format: 0, slots: []),
            StoredObject(oid: array, classOID: nilOID, format: 2,
                         slots: [ref(nilOID), ref(string), smallInteger(-42), character(0x1F600), 0x3FF0_0000_0000_0004]),
            StoredObject(oid: string, classOID: nilOID, format: 16, bytes: Array("a string".utf8)),
            StoredObject(oid: counter, classOID: nilOID, format: 1, slots: [smallInteger(7)]),
        ]
        let commit = try store.commit(base: try store.headCommit(), writes: objects, roots: ["Smalltalk": array],
                                      author: "test", message: "four objects")
        let reopened = try SQLiteStore.open(path: store.path)
        XCTAssertEqual(try reopened.headCommit(), commit)
        XCTAssertEqual(try reopened.load(oids: [counter, nilOID, array, string], asOf: commit),
                       [objects[3], objects[0], objects[1], objects[2]])
        XCTAssertEqual(try reopened.root(named: "Smalltalk", asOf: commit), array)
        XCTAssertEqual(try reopened.changedOIDs(commit: commit), Array(oids))
    }

    /// Short records go in many to a statement; long contents and out-of-line bytes one at a time, in
    /// between. Every mix, and every count around a statement's rows, reads back whole.
    func testAllRecordsOfACommitAreWrittenWhateverTheirMixOfKinds() throws {
        let perStatement = SQLiteStore.rowsPerInsert
        for count in [1, perStatement - 1, perStatement, perStatement + 1, 3 * perStatement + 7] {
            for longEvery in [0, 5, perStatement] {
                let oids = try store.allocateOIDs(count: count)
                let objects = oids.enumerated().map { i, oid -> StoredObject in
                    if longEvery > 0 && i % longEvery == 3 {
                        let size = i % 2 == 0 ? SQLiteStore.inlineContentsLimit + 1 : SQLiteStore.largeBytesThreshold + 1
                        return StoredObject(oid: oid, classOID: 1, format: 16, bytes: (0..<size).map { UInt8(truncatingIfNeeded: $0 + i) })
                    }
                    return StoredObject(oid: oid, classOID: 1, format: 2, slots: [smallInteger(i), ref(oids.lowerBound)])
                }
                let commit = try store.commit(base: try store.headCommit(), writes: objects.shuffled(),
                                              author: "test", message: "\(count) objects, every \(longEvery)th long")
                let loaded = try store.load(oids: Array(oids), asOf: commit)
                XCTAssertEqual(loaded.count, count)
                for (object, read) in zip(objects, loaded) {
                    if case let .bytes(bytes) = object.contents, bytes.count > SQLiteStore.largeBytesThreshold {
                        var streamed: [UInt8] = []
                        try store.readLargeBytes(oid: object.oid, asOf: commit) { streamed.append(contentsOf: $0) }
                        XCTAssertEqual(streamed, bytes, "object \(object.oid) of \(count)")
                    } else {
                        XCTAssertEqual(read, object, "object \(object.oid) of \(count), every \(longEvery)th long")
                    }
                }
                XCTAssertEqual(try store.changedOIDs(commit: commit), Array(oids))
            }
        }
        XCTAssertEqual(try store.check(), [])
    }

    func testMissingObjectsAreNamedInTheError() throws {
        let oids = try store.allocateOIDs(count: 3)
        let before = try store.headCommit()
        let commit = try store.commit(base: before, writes: [StoredObject(oid: oids.lowerBound, classOID: 1, format: 0, slots: [])],
                                      author: "test", message: "one")
        XCTAssertThrowsError(try store.load(oids: [oids.lowerBound, oids.lowerBound + 1, oids.lowerBound + 2], asOf: commit)) {
            XCTAssertEqual($0 as? StoreError, .objectsNotFound(oids: [oids.lowerBound + 1, oids.lowerBound + 2], asOf: commit))
        }
        XCTAssertNil(try store.load(oid: oids.lowerBound, asOf: before), "not yet created as of the earlier snapshot")
    }

    func testClusterLoadReturnsConsecutiveObjectsAsOfTheSnapshot() throws {
        let oids = try store.allocateOIDs(count: 10)
        let first = try store.commit(base: try store.headCommit(), writes: oids.map {
            StoredObject(oid: $0, classOID: oids.lowerBound, format: 1, slots: [smallInteger(Int($0))])
        }, author: "test", message: "ten")
        let changed = StoredObject(oid: oids.lowerBound + 2, classOID: oids.lowerBound, format: 1, slots: [smallInteger(-1)])
        let second = try store.commit(base: first, writes: [changed], author: "test", message: "change one")

        let cluster = try store.loadCluster(startingAt: oids.lowerBound + 1, limit: 4, asOf: second)
        XCTAssertEqual(cluster.map(\.oid), Array(oids.lowerBound + 1...oids.lowerBound + 4))
        XCTAssertEqual(cluster[1], changed)
        XCTAssertEqual(try store.loadCluster(startingAt: oids.lowerBound + 1, limit: 4, asOf: first)[1].slots,
                       [smallInteger(Int(oids.lowerBound + 2))])
        XCTAssertEqual(try store.loadCluster(startingAt: oids.lowerBound + 8, limit: 100, asOf: second).count, 2)
    }

    func testRootsAreSetAndRemovedByCommits() throws {
        let oids = try store.allocateOIDs(count: 2)
        let objects = oids.map { StoredObject(oid: $0, classOID: oids.lowerBound, format: 0, slots: []) }
        let set = try store.commit(base: try store.headCommit(), writes: objects, roots: ["Smalltalk": oids.lowerBound, "Undeclared": oids.lowerBound + 1],
                                   author: "test", message: "roots")
        let removed = try store.commit(base: set, writes: [], removingRoots: ["Undeclared"], author: "test", message: "drop a root")
        XCTAssertEqual(try store.roots(asOf: set), ["Smalltalk": oids.lowerBound, "Undeclared": oids.lowerBound + 1])
        XCTAssertEqual(try store.roots(asOf: removed), ["Smalltalk": oids.lowerBound])
        XCTAssertNil(try store.root(named: "Undeclared", asOf: removed))
        XCTAssertEqual(try store.root(named: "Undeclared", asOf: set), oids.lowerBound + 1)
    }

    func testInvalidWritesAreRefusedBeforeAnythingIsWritten() throws {
        let head = try store.headCommit()
        let object = StoredObject(oid: 5, classOID: 1, format: 0, slots: [])
        XCTAssertThrowsError(try store.commit(base: head, writes: [object, object], author: "t", message: "twice"))
        XCTAssertThrowsError(try store.commit(base: head, writes: [StoredObject(oid: 0, classOID: 1, format: 0, slots: [])], author: "t", message: "zero"))
        XCTAssertThrowsError(try store.commit(base: CommitID(head.rawValue + 5), writes: [object], author: "t", message: "future"))
        XCTAssertEqual(try store.headCommit(), head)
    }

    func testBigByteObjectsGoOutOfLineAndStreamBack() throws {
        let oid = try store.allocateOIDs(count: 1).lowerBound
        let bytes = (0..<700_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let commit = try store.commit(base: try store.headCommit(), writes: [StoredObject(oid: oid, classOID: 1, format: 16, bytes: bytes)],
                                      author: "test", message: "big")
        guard case let .largeBytes(large) = try store.load(oid: oid, asOf: commit)?.contents else {
            return XCTFail("a byte object over the threshold should come back as large bytes")
        }
        XCTAssertEqual(large.count, bytes.count)
        var read: [UInt8] = [], calls = 0
        try store.readLargeBytes(oid: oid, asOf: commit) { read.append(contentsOf: $0); calls += 1 }
        XCTAssertEqual(read, bytes)
        XCTAssertEqual(calls, 3, "700 KB in 256 KB chunks")
        XCTAssertEqual(try store.check(), [])
    }

    func testLargeBytesAreWrittenFromAStreamAndCommittedByHandle() throws {
        let total = 10 * 1024 * 1024 + 123
        var produced = 0
        let large = try store.writeLargeBytes { buffer in
            let count = min(buffer.count, total - produced, 100_000)
            for index in 0..<count { buffer[index] = UInt8(truncatingIfNeeded: (produced + index) / 1000) }
            produced += count
            return count
        }
        XCTAssertEqual(large.count, total)
        let oid = try store.allocateOIDs(count: 1).lowerBound
        let commit = try store.commit(base: try store.headCommit(),
                                      writes: [StoredObject(oid: oid, classOID: 1, format: 16, contents: .largeBytes(large))],
                                      author: "test", message: "streamed")
        var position = 0, mismatches = 0, largestBuffer = 0
        try store.readLargeBytes(oid: oid, asOf: commit) { buffer in
            for index in buffer.indices where buffer[index] != UInt8(truncatingIfNeeded: (position + index) / 1000) { mismatches += 1 }
            position += buffer.count
            largestBuffer = max(largestBuffer, buffer.count)
        }
        XCTAssertEqual(position, total)
        XCTAssertEqual(mismatches, 0)
        XCTAssertLessThanOrEqual(largestBuffer, SQLiteStore.chunkSize)
        XCTAssertThrowsError(try store.commit(base: commit, writes: [
            StoredObject(oid: oid, classOID: 1, format: 16, contents: .largeBytes(LargeBytes(id: 9999, count: 5)))
        ], author: "test", message: "no such bytes"))
    }

    func testASmallObjectTakesFewerThanAHundredBytesOfFile() throws {
        let count = 50_000
        let oids = try store.allocateOIDs(count: count)
        var base = try store.headCommit()
        for batch in stride(from: oids.lowerBound, to: oids.upperBound, by: 10_000) {
            base = try store.commit(base: base, writes: (batch..<batch + 10_000).map {
                StoredObject(oid: $0, classOID: oids.lowerBound, format: 1, slots: [ref($0 + 1), smallInteger(Int($0)), ref(oids.lowerBound)])
            }, author: "test", message: "batch")
        }
        let path = store.path
        store = try SQLiteStore.open(path: directory.file("other.lo"), create: true)  // lets go of the first store
        XCTAssertTrue(closedWithin10Seconds(path), "closing checkpoints the WAL")
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        XCTAssertLessThanOrEqual(size / count, 100, "\(size) bytes for \(count) objects")
        XCTAssertGreaterThan(size / count, 10, "closing should have moved the WAL into the file")
    }
}
