// Files that are not stores, damaged stores, and a full disk: clear errors, nothing written.

import CSQLite
import Foundation
import XCTest
@testable import Store

final class FileErrorTests: XCTestCase {
    private let directory = TemporaryDirectory()

    private func assertOpenFails(_ path: String, create: Bool = false, leavesFileAlone: Bool = true,
                                 file: StaticString = #filePath, line: UInt = #line,
                                 _ matches: (StoreError) -> Bool) {
        let before = FileManager.default.contents(atPath: path)
        XCTAssertThrowsError(try SQLiteStore.open(path: path, create: create), file: file, line: line) { error in
            guard let error = error as? StoreError else { return XCTFail("not a StoreError: \(error)", file: file, line: line) }
            XCTAssertTrue(matches(error), "unexpected \(error)", file: file, line: line)
            XCTAssertFalse(error.description.isEmpty)
        }
        if leavesFileAlone {
            XCTAssertEqual(FileManager.default.contents(atPath: path), before, "the file was changed", file: file, line: line)
            XCTAssertFalse(FileManager.default.fileExists(atPath: path + "-wal"), file: file, line: line)
        }
    }

    func testRandomBytesAreNotAStore() throws {
        let path = directory.file("random")
        var generator = SystemRandomNumberGenerator()
        _ = FileManager.default.createFile(atPath: path, contents: Data((0..<8192).map { _ in UInt8.random(in: 0...255, using: &generator) }))
        assertOpenFails(path) { if case .notAStore = $0 { true } else { false } }
        assertOpenFails(path, create: true) { if case .notAStore = $0 { true } else { false } }
    }

    func testAnotherApplicationsSQLiteDatabaseIsNotAStore() throws {
        let path = directory.file("other.db")
        try Connection(path: path, flags: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
            .execute("CREATE TABLE t(x); INSERT INTO t VALUES (1); PRAGMA application_id = 42")
        assertOpenFails(path, create: true) { if case .notAStore(_, let reason) = $0 { reason.contains("0x0000002a") } else { false } }
    }

    func testAPlainSQLiteDatabaseWithTablesIsNotAStore() throws {
        let path = directory.file("plain.db")
        try Connection(path: path, flags: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE).execute("CREATE TABLE t(x)")
        assertOpenFails(path, create: true) { if case .notAStore = $0 { true } else { false } }
    }

    func testMissingAndEmptyFiles() throws {
        assertOpenFails(directory.file("absent"), leavesFileAlone: false) { $0 == .fileNotFound(path: self.directory.file("absent")) }
        let empty = directory.file("empty")
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        assertOpenFails(empty) { if case .notAStore = $0 { true } else { false } }
        XCTAssertEqual(try SQLiteStore.open(path: empty, create: true).headCommit(), CommitID(1))
    }

    private func storeFile(objects: Int) throws -> String {
        let path = directory.file("image.lo")
        try commitObjects(objects, path)
        XCTAssertTrue(closedWithin10Seconds(path), "closing checkpoints the WAL")
        return path
    }

    private func commitObjects(_ count: Int, _ path: String) throws {
        let store = try SQLiteStore.open(path: path, create: true)
        let oids = try store.allocateOIDs(count: count)
        _ = try store.commit(base: try store.headCommit(), writes: oids.map {
            StoredObject(oid: $0, classOID: oids.lowerBound, format: 1, slots: [smallInteger(Int($0)), ref(oids.lowerBound)])
        }, roots: ["Smalltalk": oids.lowerBound], author: "t", message: "objects")
    }

    func testATruncatedStoreIsReportedAsDamaged() throws {
        let path = try storeFile(objects: 5000)
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        try FileHandle(forWritingAtPath: path)!.truncate(atOffset: UInt64(size / 2))
        assertOpenFails(path, create: true) { if case .corrupt(_, let detail) = $0 { detail.contains("truncated") } else { false } }
        try FileHandle(forWritingAtPath: path)!.truncate(atOffset: 40)
        assertOpenFails(path) { if case .corrupt = $0 { true } else { false } }
    }

    func testAStoreFromANewerVersionIsRefused() throws {
        let path = try storeFile(objects: 1)
        try Connection(path: path, flags: SQLITE_OPEN_READWRITE).execute("PRAGMA user_version = 99")
        assertOpenFails(path) { $0 == .unsupportedVersion(path: path, version: 99) }
    }

    func testGarbageInsideTheFileIsFoundNotCrashedOn() throws {
        let path = try storeFile(objects: 20_000)
        let handle = FileHandle(forWritingAtPath: path)!
        try handle.seek(toOffset: 4096 * 20)
        handle.write(Data(repeating: 0xA5, count: 4096 * 8))
        try handle.close()
        do {
            let store = try SQLiteStore.open(path: path)
            let problems = try store.check()
            XCTAssertTrue(problems.contains { $0.kind == .integrity }, "\(problems)")
        } catch let error as StoreError {
            guard case .corrupt = error else { return XCTFail("unexpected \(error)") }
        }
    }

    /// A damaged OID counter (negative, or below OIDs in use) is refused when OIDs are handed out, and
    /// reported by check: new objects must never take the OIDs of stored ones.
    func testADamagedOIDCounterIsRefusedAndReported() throws {
        let path = directory.file("counter.lo")
        let store = try SQLiteStore.open(path: path, create: true)
        let oids = try store.allocateOIDs(count: 3)
        _ = try store.commit(base: try store.headCommit(), writes: oids.map { object($0, 1) }, author: "t", message: "three")
        XCTAssertEqual(try store.check(), [])
        let editor = try Connection(path: path, flags: SQLITE_OPEN_READWRITE)
        for damaged in [-1, 0, Int64(oids.upperBound) - 1] {
            try editor.execute("UPDATE meta SET value = \(damaged) WHERE key = 'next_oid'")
            XCTAssertThrowsError(try store.allocateOIDs(count: 1), "next_oid \(damaged)") { error in
                guard case .corrupt = error as? StoreError else { return XCTFail("\(error)") }
            }
            XCTAssertEqual(try store.check().map(\.kind), [.oidCounter], "next_oid \(damaged)")
        }
        try editor.execute("UPDATE meta SET value = \(oids.upperBound) WHERE key = 'next_oid'")
        XCTAssertEqual(try store.allocateOIDs(count: 1), oids.upperBound..<oids.upperBound + 1)
    }

    /// Without the shared log (each commit its own SQLite transaction), a commit the disk cannot take fails.
    func testACommitOnAFullDiskFailsCleanlyAndSucceedsOnceThereIsSpace() throws {
        let path = try storeFile(objects: 10)
        let store = try SQLiteStore.open(path: path, sharedLog: false)
        let pages = try store.write { try $0.integer("PRAGMA page_count")! }
        try store.writer.withLock { try $0.execute("PRAGMA max_page_count = \(pages + 4)") }

        let head = try store.headCommit()
        let oids = try store.allocateOIDs(count: 20_000)
        let writes = oids.map { StoredObject(oid: $0, classOID: oids.lowerBound, format: 1, slots: [smallInteger(Int($0)), ref($0)]) }
        XCTAssertThrowsError(try store.commit(base: head, writes: writes, roots: ["more": oids.lowerBound], author: "t", message: "too big")) {
            XCTAssertEqual($0 as? StoreError, .diskFull(path: path))
        }
        XCTAssertEqual(try store.headCommit(), head)
        XCTAssertNil(try store.load(oid: oids.lowerBound, asOf: CommitID(head.rawValue + 1)))
        XCTAssertNil(try store.root(named: "more", asOf: CommitID(head.rawValue + 1)))
        XCTAssertEqual(try store.check(), [])

        try store.writer.withLock { try $0.execute("PRAGMA max_page_count = 1000000") }
        let commit = try store.commit(base: head, writes: writes, roots: ["more": oids.lowerBound], author: "t", message: "retry")
        XCTAssertEqual(try store.loadCluster(startingAt: oids.lowerBound, limit: 30_000, asOf: commit), writes)
        XCTAssertEqual(try store.check(), [])
    }

    // MARK: A full disk and the shared commit log

    /// SQLite's file may not grow by more than a few pages: the disk is full for the apply of the log.
    private func fillTheDisk(_ store: SQLiteStore) throws {
        let pages = try store.write { try $0.integer("PRAGMA page_count")! }
        try store.writer.withLock { try $0.execute("PRAGMA max_page_count = \(pages + 4)") }
    }

    private func freeSpace(_ store: SQLiteStore) throws {
        try store.writer.withLock { try $0.execute("PRAGMA max_page_count = 1000000") }
    }

    private func manyObjects(_ store: SQLiteStore) throws -> [StoredObject] {
        let oids = try store.allocateOIDs(count: 20_000)
        return oids.map { StoredObject(oid: $0, classOID: oids.lowerBound, format: 1, slots: [smallInteger(Int($0)), ref($0)]) }
    }

    /// With the shared log, a commit is acknowledged once its record is synced in the log's preallocated
    /// space: it is durable, so it is kept. Reads that need it until SQLite has it fail with `diskFull`
    /// (they do not wait), older snapshots read as before, and once there is space everything reads.
    func testOnAFullDiskACommitInTheSharedLogIsKeptAndReadsOfItFailUntilThereIsSpace() throws {
        let path = try storeFile(objects: 10)
        let store = try SQLiteStore.open(path: path, sharedLog: true)
        let head = try store.headCommit()
        let writes = try manyObjects(store)
        let first = writes[0].oid
        try fillTheDisk(store)

        let commit = try store.commit(base: head, writes: writes, roots: ["more": first], author: "t", message: "kept")
        XCTAssertEqual(try store.headCommit(), commit)
        for _ in 0..<2 {  // the background apply retries meanwhile, and fails again
            XCTAssertThrowsError(try store.load(oid: first, asOf: commit)) { XCTAssertEqual($0 as? StoreError, .diskFull(path: path)) }
            XCTAssertThrowsError(try store.check()) { XCTAssertEqual($0 as? StoreError, .diskFull(path: path)) }
            Thread.sleep(forTimeInterval: 0.15)
        }
        XCTAssertNil(try store.load(oid: first, asOf: head), "a snapshot before the commit reads as before")
        XCTAssertNotNil(try store.root(named: "Smalltalk", asOf: head))

        try freeSpace(store)
        XCTAssertEqual(try store.loadCluster(startingAt: first, limit: 30_000, asOf: commit), writes)
        XCTAssertEqual(try store.root(named: "more", asOf: commit), first)
        XCTAssertEqual(try store.check(), [])
    }

    /// A store closed while the disk is full keeps its acknowledged commit in the log: the next open
    /// (with space) applies it.
    func testACommitInTheSharedLogSurvivesClosingWhileTheDiskIsFull() throws {
        let path = try storeFile(objects: 10)
        var store: SQLiteStore? = try SQLiteStore.open(path: path, sharedLog: true)
        let head = try store!.headCommit()
        let writes = try manyObjects(store!)
        try fillTheDisk(store!)
        let commit = try store!.commit(base: head, writes: writes, roots: ["more": writes[0].oid], author: "t", message: "kept")
        store = nil
        XCTAssertTrue(FileManager.default.fileExists(atPath: path + "-log"), "the log keeps what SQLite could not take")

        let reopened = try SQLiteStore.open(path: path, sharedLog: true)
        XCTAssertEqual(try reopened.headCommit(), commit)
        XCTAssertEqual(try reopened.loadCluster(startingAt: writes[0].oid, limit: 30_000, asOf: commit), writes)
        XCTAssertEqual(try reopened.check(), [])
    }

    /// When the log itself cannot grow to take a commit, the commit fails with `diskFull` and nothing
    /// of it is visible; the caller keeps its changes, and the same commit succeeds once there is space.
    func testACommitTheSharedLogCannotGrowForFailsWithDiskFullAndCanBeRetried() throws {
        let path = try storeFile(objects: 10)
        let store = try SQLiteStore.open(path: path, sharedLog: true)
        let head = try store.headCommit()
        // 140 byte objects of 60 KB (stored inline, so in the log record): more than the log's 8 MB.
        let oids = try store.allocateOIDs(count: 140)
        let writes = oids.map { StoredObject(oid: $0, classOID: 1, format: 16, bytes: [UInt8](repeating: UInt8($0 % 251), count: 60_000)) }
        CommitLog.growthFailsForTests.store(true, ordering: .relaxed)
        defer { CommitLog.growthFailsForTests.store(false, ordering: .relaxed) }
        XCTAssertThrowsError(try store.commit(base: head, writes: writes, roots: ["big": oids.lowerBound], author: "t", message: "too big")) {
            XCTAssertEqual($0 as? StoreError, .diskFull(path: path + "-log"))
        }
        XCTAssertEqual(try store.headCommit(), head)
        XCTAssertNil(try store.load(oid: oids.lowerBound, asOf: head))
        XCTAssertNil(try store.root(named: "big", asOf: head))
        XCTAssertEqual(try store.check(), [])

        CommitLog.growthFailsForTests.store(false, ordering: .relaxed)
        let commit = try store.commit(base: head, writes: writes, roots: ["big": oids.lowerBound], author: "t", message: "retry")
        XCTAssertEqual(try store.load(oids: Array(oids), asOf: commit), writes)
        XCTAssertEqual(try store.check(), [])
    }
}
