// One file opened by several stores: a process that opens a store a second time must not drop the
// locks of the first, or another process would take the file for unused when it closes (and delete
// the WAL that the first store still writes to).

import Foundation
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
}
