// Vacuum, check and backup.

import Foundation
import XCTest
@testable import Store

final class MaintenanceTests: XCTestCase {
    private let directory = TemporaryDirectory()
    private lazy var store = try! SQLiteStore.open(path: directory.file("image.lo"), create: true)

    /// root → a → b, with a checkpoint while a also referred to d; c never reachable; a rewritten twice.
    private func history() throws -> (oids: [UInt64], commits: [CommitID]) {
        let range = try store.allocateOIDs(count: 4)
        let (a, b, c, d) = (range.lowerBound, range.lowerBound + 1, range.lowerBound + 2, range.lowerBound + 3)
        let c1 = try store.commit(base: try store.headCommit(), writes: [object(a, 1, b, d), object(b, 0), object(d, 0)],
                                  roots: ["Smalltalk": a], author: "t", message: "a → b, d")
        try store.checkpoint(name: "with d", commit: c1)
        let c2 = try store.commit(base: c1, writes: [object(a, 2, b), object(c, 0)], author: "t", message: "a drops d; garbage c")
        let c3 = try store.commit(base: c2, writes: [object(a, 3, b)], author: "t", message: "a again")
        return ([a, b, c, d], [c1, c2, c3])
    }

    func testVacuumKeepsTheHeadCheckpointsAndWhatTheyReach() throws {
        let (oids, commits) = try history()
        let (a, b, c, d) = (oids[0], oids[1], oids[2], oids[3])
        let report = try store.vacuum(retain: .zero)

        XCTAssertEqual(report, VacuumReport(versionsRemoved: 2, objectsRemoved: 1, largeBytesRemoved: 0))
        let head = try store.headCommit()
        XCTAssertEqual(try store.load(oids: [a, b], asOf: head), [object(a, 3, b), object(b, 0)])
        XCTAssertNil(try store.load(oid: c, asOf: head), "unreachable from every kept snapshot")
        XCTAssertEqual(try store.load(oids: [a, d], asOf: commits[0]), [object(a, 1, b, d), object(d, 0)], "the checkpoint's state")
        // a's version at c2 is gone: read as of c2, a would be c1's version, so the read is refused.
        // b, written by no commit since, reads as it was.
        XCTAssertThrowsError(try store.load(oid: a, asOf: commits[1])) { XCTAssertEqual($0 as? StoreError, .snapshotReclaimed(commits[1])) }
        XCTAssertEqual(try store.load(oid: b, asOf: commits[1]), object(b, 0))
        XCTAssertEqual(try store.check(), [])
    }

    func testSnapshotsVacuumThinnedOutAreNoLongerIntact() throws {
        let (_, commits) = try history()
        XCTAssertEqual(try store.historyHorizon(), CommitID(1), "vacuum never ran")
        try store.vacuum(retain: .seconds(3600))
        XCTAssertEqual(try store.historyHorizon(), CommitID(1), "every commit is inside the window")
        try store.vacuum(retain: .zero)
        let head = try store.headCommit()
        XCTAssertEqual(try store.historyHorizon(), head)
        XCTAssertEqual(try commits.map(store.isIntact), [true, false, true], "c1 is a checkpoint, c3 the head")
        XCTAssertThrowsError(try store.rollback(to: commits[1], author: "t")) { error in
            XCTAssertEqual(error as? StoreError, .snapshotReclaimed(commits[1]))
        }
        XCTAssertThrowsError(try store.checkpoint(name: "late", commit: commits[1]))
        XCTAssertEqual(try store.headCommit(), head, "nothing was committed")
        _ = try store.rollback(to: commits[0], author: "t")
        try store.vacuum(retain: .seconds(3600))
        XCTAssertEqual(try store.historyHorizon(), head, "the horizon never moves back")
    }

    func testVacuumWithinTheWindowKeepsEveryVersion() throws {
        let (oids, commits) = try history()
        try store.removeCheckpoint(name: "with d")
        let report = try store.vacuum(retain: .seconds(3600))
        XCTAssertEqual(report.objectsRemoved, 1, "only c, which no snapshot reaches")
        XCTAssertEqual(try store.load(oid: oids[0], asOf: commits[1]), object(oids[0], 2, oids[1]))
        XCTAssertEqual(try store.load(oid: oids[3], asOf: commits[0]), object(oids[3], 0), "d is reachable as of c1, in the window")
    }

    func testVacuumDropsUnreferencedLargeBytesButKeepsUsedOnes() throws {
        let oid = try store.allocateOIDs(count: 1).lowerBound
        let big = [UInt8](repeating: 7, count: 300_000)
        let used = try store.commit(base: try store.headCommit(), writes: [StoredObject(oid: oid, classOID: oid, format: 16, bytes: big)],
                                    roots: ["blob": oid], author: "t", message: "big")
        var sent = false
        _ = try store.writeLargeBytes { buffer in
            if sent { return 0 }
            sent = true
            buffer.initializeMemory(as: UInt8.self, repeating: 1)
            return buffer.count
        }
        let report = try store.vacuum(retain: .zero)
        XCTAssertEqual(report.largeBytesRemoved, 1)
        var read: [UInt8] = []
        try store.readLargeBytes(oid: oid, asOf: used) { read.append(contentsOf: $0) }
        XCTAssertEqual(read, big)
        XCTAssertEqual(try store.check(), [])
    }

    /// An import that fails (here its source does) leaves no bytes; where the delete of what it wrote
    /// fails too (a full disk), a gc within its window drops them (they lingered 30 days).
    func testTheBytesOfAFailedImportGoAtOnceOrWithTheNextVacuum() throws {
        struct Unreadable: Error {}
        func failedImport() {
            var sent = false
            XCTAssertThrowsError(try store.writeLargeBytes { buffer in
                if sent { throw Unreadable() }
                sent = true
                buffer.initializeMemory(as: UInt8.self, repeating: 3)
                return buffer.count
            })
        }
        func stagedRows() throws -> Int64 {
            try store.withReader { (connection: Connection) throws -> Int64 in
                try connection.integer("SELECT count(*) FROM large_bytes") ?? -1
            }
        }
        failedImport()
        XCTAssertEqual(try stagedRows(), 0)
        SQLiteStore.cleanupFailsForTests.store(true, ordering: .relaxed)
        defer { SQLiteStore.cleanupFailsForTests.store(false, ordering: .relaxed) }
        failedImport()
        XCTAssertEqual(try stagedRows(), 1)
        XCTAssertEqual(try store.vacuum(retain: .seconds(30 * 86_400)).largeBytesRemoved, 1)
        XCTAssertEqual(try stagedRows(), 0)
        XCTAssertEqual(try store.check(), [])
    }

    func testCheckFindsAPlantedDanglingReferenceAndRoot() throws {
        let oids = try store.allocateOIDs(count: 2)
        let missing: UInt64 = 999_999
        _ = try store.commit(base: try store.headCommit(), writes: [object(oids.lowerBound, 0, missing)],
                             roots: ["Smalltalk": oids.lowerBound, "Lost": oids.lowerBound + 1], author: "t", message: "dangling")
        let problems = try store.check()
        XCTAssertEqual(problems.filter { $0.kind == .danglingReference }.map(\.detail),
                       ["object \(oids.lowerBound) refers to missing object \(missing)"])
        XCTAssertEqual(problems.filter { $0.kind == .danglingRoot }.count, 1)
        XCTAssertEqual(problems.count, 2)
    }

    func testCheckFindsAMissingChunk() throws {
        let oid = try store.allocateOIDs(count: 1).lowerBound
        _ = try store.commit(base: try store.headCommit(), writes: [StoredObject(oid: oid, classOID: oid, format: 16,
                                                                                   bytes: [UInt8](repeating: 1, count: 600_000))],
                             author: "t", message: "big")
        XCTAssertEqual(try store.check(), [])
        try store.write { try $0.execute("DELETE FROM chunks WHERE seq = 1") }
        let problems = try store.check()
        XCTAssertEqual(problems.map(\.kind), [.incompleteLargeBytes])
        XCTAssertTrue(problems.first?.detail.contains("2 of 3 chunks") ?? false, "\(problems)")
    }

    func testABackupTakenWhileCommittingOpensAndChecksClean() throws {
        let oid = try store.allocateOIDs(count: 1).lowerBound
        _ = try store.commit(base: try store.headCommit(), writes: [object(oid, 0)], roots: ["counter": oid], author: "t", message: "0")
        let filler = try store.allocateOIDs(count: 20_000)
        _ = try store.commit(base: try store.headCommit(), writes: filler.map { object($0, Int($0), oid) }, author: "t", message: "bulk")
        let stop = Locked(false)
        let committer = Thread { [store] in
            var value = 0
            while !stop.value {
                value += 1
                _ = try? store.commit(base: try! store.headCommit(), writes: [object(oid, value)], author: "t", message: "\(value)")
            }
        }
        committer.start()
        let bulk = try store.headCommit()
        XCTAssertTrue(try waitUntil(within: 60) { try store.headCommit().rawValue >= bulk.rawValue + 3 }, "the committer did not start")
        let backupPath = directory.file("backup.lo")
        try store.backup(to: backupPath)
        let copy = try SQLiteStore.open(path: backupPath)
        let copied = try copy.headCommit()
        XCTAssertTrue(try waitUntil(within: 60) { try store.headCommit().rawValue >= copied.rawValue + 3 },
                      "commits did not go on after the backup's snapshot")
        stop.mutate { $0 = true }
        while !committer.isFinished { Thread.sleep(forTimeInterval: 0.01) }

        XCTAssertEqual(try copy.check(), [])
        XCTAssertLessThan(copied, try store.headCommit())
        XCTAssertEqual(try copy.load(oid: oid, asOf: copied), try store.load(oid: oid, asOf: copied))
        XCTAssertEqual(try copy.loadCluster(startingAt: filler.lowerBound, limit: 30_000, asOf: copied).count, filler.count)
        XCTAssertThrowsError(try store.backup(to: backupPath), "an existing file is never overwritten")
    }
}

private func object(_ oid: UInt64, _ value: Int, _ references: UInt64...) -> StoredObject {
    StoredObject(oid: oid, classOID: oid, format: 1, slots: [smallInteger(value)] + references.map(ref))
}
