// Acknowledged means synced: the writer runs with `synchronous = NORMAL`, and every write path syncs
// the WAL after its COMMIT, outside SQLite's write lock (WALSync.swift).

import Foundation
import Synchronization
import XCTest
@testable import Store

final class DurabilityTests: XCTestCase {
    private let directory = TemporaryDirectory()

    private func syncs(_ store: SQLiteStore) -> Int { store.walSync.completed.load(ordering: .relaxed) }

    func testEveryWritePathSyncsTheWALBeforeItReturns() throws {
        let store = try SQLiteStore.open(path: directory.file("sync.lo"), create: true, sharedLog: false)
        XCTAssertEqual(try store.writer.withLock { try $0.integer("PRAGMA synchronous") }, 1, "NORMAL: the store syncs")
        func expectSync(_ what: String, _ body: () throws -> Void) rethrows {
            let before = syncs(store)
            try body()
            XCTAssertGreaterThan(syncs(store), before, "\(what) returned without syncing the WAL")
        }
        var oid: UInt64 = 0
        try expectSync("allocateOIDs") { oid = try store.allocateOIDs(count: 1).lowerBound }
        var head = try store.headCommit()
        try expectSync("commit") { head = try store.commit(base: head, writes: [object(oid, 1)], author: "t", message: "one") }
        try expectSync("checkpoint") { try store.checkpoint(name: "first", commit: head) }
        try expectSync("removeCheckpoint") { try store.removeCheckpoint(name: "first") }
        try expectSync("writeLargeBytes") {
            var left = 1000
            _ = try store.writeLargeBytes { buffer in
                let count = min(left, buffer.count)
                left -= count
                return count
            }
        }
        try expectSync("rollback") { _ = try store.rollback(to: head, author: "t") }

        // Several sessions at once: each answered commit was in a synced batch.
        let before = syncs(store)
        let oids = try store.allocateOIDs(count: 8)
        runThreads(8) { session in
            var base = try store.headCommit()
            for value in 1...20 {
                base = try store.commit(base: base, writes: [object(oids.lowerBound + UInt64(session), value)],
                                         author: "t", message: "many")
            }
        }
        let statistics = store.groupCommitStatistics
        XCTAssertGreaterThanOrEqual(syncs(store) - before, 1)
        XCTAssertLessThanOrEqual(syncs(store) - before, statistics.batches + 1, "one sync per batch")
    }

    /// Another store (another process, in effect: its own connections) commits while this one is held
    /// inside its sync: the sync no longer holds SQLite's write lock.
    func testAnotherWriterCommitsWhileOneSyncs() throws {
        let path = directory.file("overlap.lo")
        let first = try SQLiteStore.open(path: path, create: true, sharedLog: false)
        let second = try SQLiteStore.open(path: path, sharedLog: false)
        let oids = try first.allocateOIDs(count: 2)
        let inSync = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        first.walSync.beforeSync.withLock { $0 = { inSync.signal(); release.wait() } }
        let firstCommit = Mutex<CommitID?>(nil)
        let committer = Thread {
            let id = try! first.commit(base: try! first.headCommit(), writes: [object(oids.lowerBound, 1)], author: "t", message: "held")
            firstCommit.withLock { $0 = id }
        }
        committer.start()
        XCTAssertEqual(inSync.wait(timeout: .now() + 10), .success)
        first.walSync.beforeSync.withLock { $0 = nil }

        let done = DispatchSemaphore(value: 0)
        let secondCommit = Mutex<CommitID?>(nil)
        Thread {
            let id = try! second.commit(base: try! second.headCommit(), writes: [object(oids.lowerBound + 1, 2)],
                                        author: "t", message: "meanwhile")
            secondCommit.withLock { $0 = id }
            done.signal()
        }.start()
        let finished = done.wait(timeout: .now() + 10)
        XCTAssertEqual(finished, .success, "the second writer waited for the first one's sync")
        XCTAssertNil(firstCommit.withLock { $0 }, "the first commit must not return before its sync")
        release.signal()
        if finished != .success { XCTAssertEqual(done.wait(timeout: .now() + 10), .success) }
        while firstCommit.withLock({ $0 }) == nil { usleep(1000) }

        let head = try second.headCommit()
        XCTAssertEqual(try second.load(oid: oids.lowerBound, asOf: head)?.slots, [smallInteger(1)])
        XCTAssertEqual(try second.load(oid: oids.lowerBound + 1, asOf: head)?.slots, [smallInteger(2)])
        XCTAssertEqual(Set([firstCommit.withLock { $0 }!, secondCommit.withLock { $0 }!]).count, 2)
    }

    func testASyncFollowsTheWALFileWhenItIsReplacedOrRemoved() throws {
        let path = directory.file("plain")
        let sync = WALSync(databasePath: path)
        try sync.sync()  // no WAL file: nothing to sync
        XCTAssertEqual(sync.completed.load(ordering: .relaxed), 1)
        FileManager.default.createFile(atPath: path + "-wal", contents: Data("one".utf8))
        try sync.sync()
        XCTAssertEqual(sync.syncedInode, try inode(path + "-wal"))
        let old = try inode(path + "-wal")
        FileManager.default.createFile(atPath: path + "-new", contents: Data("two".utf8))
        XCTAssertEqual(rename(path + "-new", path + "-wal"), 0)  // the old file stays open in `sync`: a new inode
        let new = try inode(path + "-wal")
        XCTAssertNotEqual(old, new)
        try sync.sync()
        XCTAssertEqual(sync.syncedInode, new, "the replacing WAL was synced, not only the old descriptor")
        try FileManager.default.removeItem(atPath: path + "-wal")
        try sync.sync()
        XCTAssertEqual(sync.completed.load(ordering: .relaxed), 4)
    }

    /// The sync's check that the WAL is still linked reads the link count without the timestamps (statx).
    func testTheLinkCountOfAnOpenFile() throws {
        let path = directory.file("links")
        FileManager.default.createFile(atPath: path, contents: Data("x".utf8))
        let descriptor = open(path, O_RDONLY)
        defer { close(descriptor) }
        XCTAssertEqual(linkCount(descriptor), 1)
        XCTAssertEqual(link(path, path + "-2"), 0)
        XCTAssertEqual(linkCount(descriptor), 2)
        XCTAssertEqual(unlink(path), 0)
        XCTAssertEqual(unlink(path + "-2"), 0)
        XCTAssertEqual(linkCount(descriptor), 0)
    }

    private func inode(_ path: String) throws -> UInt64 {
        (try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as! NSNumber).uint64Value
    }

    /// Many connections write at once: each waits for the others' locks (the busy handler) instead of
    /// failing with SQLITE_BUSY.
    func testWritersOfSeveralStoresWaitForEachOther() throws {
        let path = directory.file("busy.lo")
        let stores = try [SQLiteStore.open(path: path, create: true, sharedLog: false)] + (1..<4).map { _ in try SQLiteStore.open(path: path, sharedLog: false) }
        let oids = try stores[0].allocateOIDs(count: 8)
        let failures = Mutex<[String]>([])
        runThreads(8) { session in
            let store = stores[session % stores.count]
            do {
                var base = try store.headCommit()
                for value in 1...30 {
                    base = try store.commit(base: base, writes: [object(oids.lowerBound + UInt64(session), value)],
                                            author: "t", message: "busy")
                    _ = try store.allocateOIDs(count: 1)
                }
            } catch { failures.withLock { $0.append("\(error)") } }
        }
        XCTAssertEqual(failures.withLock { $0 }, [])
        let head = try stores[3].headCommit()
        for session in 0..<8 {
            XCTAssertEqual(try stores[3].load(oid: oids.lowerBound + UInt64(session), asOf: head)?.slots, [smallInteger(30)])
        }
    }
}
