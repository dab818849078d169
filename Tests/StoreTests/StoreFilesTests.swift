// A store's file and its companions (WAL, commit log, shared page) under every name: opened through a
// symlink, the store keeps its companions beside the file the link names, as SQLite keeps the WAL; a
// file with two names (hard links) is refused; and any name of one of them is known as the store's.

import CSQLite
import Foundation
import XCTest
@testable import Store

final class StoreFilesTests: XCTestCase {
    private let directory = TemporaryDirectory()

    private func commitOne(_ store: SQLiteStore, _ value: Int) throws -> CommitID {
        let oid = try store.allocateOIDs(count: 1).lowerBound
        return try store.commit(base: try store.headCommit(), writes: [StoredObject(oid: oid, classOID: oid, format: 1, slots: [smallInteger(value)])],
                                author: "test", message: "one")
    }

    func testAStoreOpenedThroughASymlinkKeepsItsCompanionsBesideTheFileItNames() throws {
        let path = directory.file("real.lo"), link = directory.file("link.lo")
        XCTAssertEqual(symlink("real.lo", link), 0, "a relative link")
        let created = try SQLiteStore.open(path: link, create: true)
        XCTAssertEqual(created.path, path)
        let first = try commitOne(created, 1)
        let byName = try SQLiteStore.open(path: path)
        XCTAssertEqual(try byName.headCommit(), first)
        let second = try commitOne(byName, 2)
        XCTAssertEqual(try created.headCommit(), second, "one commit log for both names")
        for suffix in StoreFiles.companionSuffixes {
            XCTAssertFalse(FileManager.default.fileExists(atPath: link + suffix), "\(suffix) beside the link")
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: path + "-wal"))
    }

    func testAFileWithTwoNamesIsRefused() throws {
        let path = directory.file("one.lo"), other = directory.file("two.lo")
        _ = try commitOne(try SQLiteStore.open(path: path, create: true), 1)
        XCTAssertTrue(waitUntil { !FileManager.default.fileExists(atPath: path + "-wal") }, "the store closed")
        XCTAssertEqual(link(path, other), 0)
        for name in [path, other] {
            XCTAssertThrowsError(try SQLiteStore.open(path: name)) { error in
                guard case StoreError.inUse(_, let detail) = error else { return XCTFail("\(error)") }
                XCTAssertTrue(detail.contains("2 names (hard links)"), detail)
            }
        }
        XCTAssertEqual(unlink(other), 0)
        XCTAssertNoThrow(try SQLiteStore.open(path: path), "opens again once it has one name")
    }

    /// A process may exit as soon as its stores have closed: by then the last one has removed the
    /// files only an open store needs, though an apply was still scheduled when it was let go of.
    func testTheLastStoreToCloseLeavesOnlyTheDatabase() throws {
        let path = directory.file("closing.lo")
        for _ in 0..<5 {
            var store: SQLiteStore? = try SQLiteStore.open(path: path, create: true)
            _ = try commitOne(store!, 1)
            store = nil
            SQLiteStore.awaitStoresClosed()
            for companion in ["-log", "-sync", "-wal", "-shm"] {
                XCTAssertFalse(FileManager.default.fileExists(atPath: path + companion), companion)
            }
        }
    }

    /// SQLite cannot open a file that exists when it, or its directory, is read-only (it must make
    /// the files kept beside it): that is said, not "no such store".
    func testAStoreThatExistsButCannotBeOpenedIsNotCalledMissing() throws {
        let path = directory.file("there.lo"), missing = directory.file("missing.lo")
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data()))
        let unopenable = StoreError(sqliteCode: SQLITE_CANTOPEN, message: "unable to open database file", path: path)
        XCTAssertTrue("\(unopenable)".contains("read-only") && !"\(unopenable)".contains("no such store"), "\(unopenable)")
        XCTAssertEqual("\(StoreError(sqliteCode: SQLITE_CANTOPEN, message: "", path: missing))", "\(missing): no such store")
        let readOnly = StoreError(sqliteCode: SQLITE_READONLY, message: "attempt to write a readonly database", path: path)
        XCTAssertTrue("\(readOnly)".contains("cannot be written"), "\(readOnly)")
    }

    /// A copy of the database file alone, made while the store is in use (as a rename after a crash
    /// leaves it: its log and WAL stay under the old name), misses the newest commits: it is refused,
    /// where it used to open at an older commit without a word. An empty log accepts the loss. A
    /// store closed first needs nothing beside it.
    func testADatabasePartedFromTheLogItWasUsingIsRefused() throws {
        let path = directory.file("used.lo"), moved = directory.file("moved.lo"), closed = directory.file("closed.lo")
        var store: SQLiteStore? = try SQLiteStore.open(path: path, create: true)
        _ = try commitOne(store!, 1)
        try FileManager.default.copyItem(atPath: path, toPath: moved)
        XCTAssertThrowsError(try SQLiteStore.open(path: moved)) { error in
            XCTAssertTrue("\(error)".contains("moved.lo-log is missing"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: moved + "-log"), "nothing was made")
        XCTAssertTrue(FileManager.default.createFile(atPath: moved + "-log", contents: Data()))
        XCTAssertNoThrow(try SQLiteStore.open(path: moved))
        store = nil
        SQLiteStore.awaitStoresClosed()
        try FileManager.default.copyItem(atPath: path, toPath: closed)
        XCTAssertNoThrow(try SQLiteStore.open(path: closed))
    }

    func testTheStoresFilesAreKnownUnderAnyName() throws {
        let path = directory.file("known.lo"), link = directory.file("alias.lo")
        let store = try SQLiteStore.open(path: path, create: true)
        _ = try commitOne(store, 1)
        XCTAssertEqual(symlink(path, link), 0)
        let names = [path, path + "-wal", path + "-log", path + "-sync", path + "-shm", path + "-journal",
                     directory.path + "/./known.lo", link]
        for name in names { XCTAssertTrue(StoreFiles.isStoreFile(name, of: path), name) }
        XCTAssertTrue(StoreFiles.isStoreFile(path + "-log", of: link))
        let hardLog = directory.file("log-again")
        XCTAssertEqual(Glibc.link(path + "-log", hardLog), 0)
        XCTAssertTrue(StoreFiles.isStoreFile(hardLog, of: path), "another name of the commit log")
        for name in [directory.file("known.lo.bak"), directory.file("known"), directory.file("other.lo-wal")] {
            XCTAssertFalse(StoreFiles.isStoreFile(name, of: path), name)
        }
    }
}
