// One file opened by several stores: a process that opens a store a second time must not drop the
// locks of the first, or another process would take the file for unused when it closes (and delete
// the WAL that the first store still writes to). And the store `openShared` hands to every user of a
// file in the process (the runtimes of one image).

import Foundation
import Synchronization
import XCTest
@testable import Store

final class SharedFileTests: XCTestCase {
    private let directory = TemporaryDirectory()

    /// Whether some lock (of any process, this one included) covers SQLite's lock bytes of the file:
    /// asked with an open-file-description lock, which conflicts even with this process's own locks.
    private func lockBytesAreHeld(_ path: String) throws -> Bool {
        let fd = open(path, O_RDWR)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }  // drops this process's POSIX locks on the file: ask last
        var lock = flock()
        lock.l_type = Int16(F_WRLCK)
        lock.l_whence = Int16(SEEK_SET)
        lock.l_start = 0x4000_0000  // SQLite's pending byte, then the reserved and shared bytes
        lock.l_len = 512
        guard fcntl(fd, 36 /* F_OFD_GETLK, Linux */, &lock) == 0 else { throw XCTSkip("no open-file-description locks here") }
        return lock.l_type != Int16(F_UNLCK)
    }

    func testOpeningAStoreAgainKeepsTheLocksOfTheOneOpenAlready() throws {
        let path = directory.file("twice.lo")
        let first = try SQLiteStore.open(path: path, create: true)
        let oid = try first.allocateOIDs(count: 1).lowerBound
        let head = try first.commit(base: try first.headCommit(), writes: [StoredObject(oid: oid, classOID: oid, format: 1, slots: [smallInteger(1)])],
                                    author: "test", message: "one")
        do {
            let second = try SQLiteStore.open(path: path)
            XCTAssertEqual(try second.headCommit(), head)
        }
        _ = try first.commit(base: head, writes: [StoredObject(oid: oid, classOID: oid, format: 1, slots: [smallInteger(2)])],
                             author: "test", message: "two")
        XCTAssertTrue(try lockBytesAreHeld(path), "the first store lost its shared lock on the file")
    }

    // MARK: One store per file for the process's runtimes

    func testOpenSharedAnswersTheOneStoreOfTheFileUnderAnyOfItsNames() throws {
        let path = directory.file("one.lo")
        let store = try SQLiteStore.openShared(path: path, create: true)
        let link = directory.file("link.lo")
        XCTAssertEqual(symlink(path, link), 0)
        XCTAssertTrue(try SQLiteStore.openShared(path: path) === store)
        XCTAssertTrue(try SQLiteStore.openShared(path: directory.path + "/./one.lo") === store)
        XCTAssertTrue(try SQLiteStore.openShared(path: link) === store)
        XCTAssertFalse(try SQLiteStore.open(path: path) === store, "open makes a store of its own")
        XCTAssertFalse(try SQLiteStore.openShared(path: directory.file("other.lo"), create: true) === store)
    }

    func testCommitsOfSessionsOfTheSharedStoreAreGroupedAndStillConflict() throws {
        let path = directory.file("sessions.lo")
        let store = try SQLiteStore.openShared(path: path, create: true)
        let oids = try store.allocateOIDs(count: 8)
        let base = try store.headCommit()
        let before = store.groupCommitStatistics
        let results = Mutex<[Int: Result<CommitID, any Error>]>([:])
        DispatchQueue.concurrentPerform(iterations: 8) { session in
            // Two sessions write the first object: one of them conflicts.
            let oid = oids.lowerBound + UInt64(max(session, 1) - 1)
            let opened = Result { try SQLiteStore.openShared(path: path) }
            let result = opened.flatMap { shared in
                Result { try shared.commit(base: base, writes: [object(oid, session)], author: "s\(session)", message: "one") }
            }
            results.withLock { $0[session] = result }
        }
        let outcomes = results.withLock { $0 }
        let conflicts = outcomes.values.filter { if case .failure(_ as CommitConflict) = $0 { true } else { false } }
        XCTAssertEqual(conflicts.count, 1, "\(outcomes)")
        XCTAssertEqual(outcomes.values.filter { if case .success = $0 { true } else { false } }.count, 7)
        let after = store.groupCommitStatistics
        XCTAssertEqual(after.commits - before.commits, 8, "every session's commit went through the one store")
    }

    func testASharedStoreClosesWithItsLastUserAndTheNextOpenMakesANewOne() throws {
        let path = directory.file("closing.lo")
        weak var letGo: SQLiteStore?
        do {
            let store = try SQLiteStore.openShared(path: path, create: true)
            let oid = try store.allocateOIDs(count: 1).lowerBound
            _ = try store.commit(base: try store.headCommit(), writes: [object(oid, 1)], author: "test", message: "one")
            letGo = store
        }
        XCTAssertTrue(waitUntil { letGo == nil }, "the store outlived its last user")
        // Closed: nothing of this process holds the file, so an exclusive open (which any other open
        // store of the file excludes) succeeds.
        do { _ = try SQLiteStore.open(path: path, exclusive: true) }
        let reopened = try SQLiteStore.openShared(path: path)
        XCTAssertEqual(try reopened.commits(limit: 1).first?.message, "one")
    }
}
