// The writer keeps its read transaction open between its commits (HeldSnapshot.swift), and lets go
// when the WAL is due for a checkpoint, when another store writes, and when commits stop.

import CSQLite
import Foundation
import XCTest
@testable import Store

final class HeldSnapshotTests: XCTestCase {
    private let directory = TemporaryDirectory()

    private func walSize(_ path: String) -> Int {
        (try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? 0
    }

    func testACommitKeepsTheSnapshotAndAnIdleStoreLetsItGo() throws {
        let path = directory.file("idle.lo")
        let store = try SQLiteStore.open(path: path, create: true, sharedLog: false)
        let oid = try store.allocateOIDs(count: 1).lowerBound
        var head = try store.headCommit()
        var sawHeld = false, last = 0
        for value in 1...20 where !sawHeld {
            head = try store.commit(base: head, writes: [object(oid, value)], author: "t", message: "one")
            last = value
            sawHeld = store.writer.withLock { $0.holdsSnapshot }
        }
        XCTAssertTrue(sawHeld, "a commit let go of its read transaction")

        XCTAssertTrue(waitUntil(within: 5) { !store.writer.withLock { $0.holdsSnapshot } }, "still held with no commit for 5 s")
        // Another process can now checkpoint everything and truncate the WAL (it would wait for a held
        // read mark, up to the busy handler's 30 s).
        let other = try Connection(path: path, flags: SQLITE_OPEN_READWRITE)
        let truncate = try other.statement("PRAGMA wal_checkpoint(TRUNCATE)")
        XCTAssertTrue(try truncate.step())
        XCTAssertEqual(truncate.int64(0), 0, "the checkpoint was blocked")
        truncate.reset()
        XCTAssertEqual(walSize(path), 0)
        XCTAssertEqual(try store.headCommit(), head)
        XCTAssertEqual(try store.load(oid: oid, asOf: head)?.slots, [smallInteger(last)])
    }

    /// Commits that keep the snapshot still checkpoint at SQLite's autocheckpoint size, and the WAL
    /// restarts from its beginning instead of growing.
    func testTheWALStaysAtTheCheckpointSize() throws {
        let path = directory.file("wal.lo")
        let store = try SQLiteStore.open(path: path, create: true, sharedLog: false)
        let oid = try store.allocateOIDs(count: 1).lowerBound
        var head = try store.headCommit()
        var largest = 0
        for value in 1...2500 {  // two frames each: five times the checkpoint size
            head = try store.commit(base: head, writes: [object(oid, value)], author: "t", message: "one")
            largest = max(largest, walSize(path))
        }
        let pageSize = try XCTUnwrap(store.writer.withLock { try $0.integer("PRAGMA page_size") })
        XCTAssertLessThanOrEqual(largest, 32 + (Int(HeldSnapshot.checkpointFrames) + 20) * (Int(pageSize) + 24))
        XCTAssertEqual(try store.load(oid: oid, asOf: head)?.slots, [smallInteger(2500)])
        XCTAssertEqual(try store.check(), [])
    }

    /// Another store on the file commits between this one's commits: this one's held snapshot is stale,
    /// so it begins afresh and sees the other's commit (its head, and the conflict).
    func testCommitsOfAnotherStoreInBetweenAreSeen() throws {
        let path = directory.file("two.lo")
        let first = try SQLiteStore.open(path: path, create: true, sharedLog: false)
        let second = try SQLiteStore.open(path: path, sharedLog: false)
        let oids = try first.allocateOIDs(count: 2)
        var head = try first.headCommit()
        for value in 1...50 {
            let mine = try first.commit(base: head, writes: [object(oids.lowerBound, value)], author: "t", message: "first")
            XCTAssertEqual(mine.rawValue, head.rawValue + 1)
            let theirs = try second.commit(base: mine, writes: [object(oids.lowerBound + 1, value)], author: "t", message: "second")
            XCTAssertThrowsError(try first.commit(base: mine, writes: [object(oids.lowerBound + 1, -value)], author: "t", message: "stale")) {
                XCTAssertEqual($0 as? CommitConflict, CommitConflict(oids: [oids.lowerBound + 1], roots: []), "\($0)")
            }
            head = theirs
        }
        let last = try first.headCommit()
        XCTAssertEqual(try first.load(oid: oids.lowerBound + 1, asOf: last)?.slots, [smallInteger(50)])
        XCTAssertEqual(try second.load(oid: oids.lowerBound, asOf: last)?.slots, [smallInteger(50)])
    }
}
