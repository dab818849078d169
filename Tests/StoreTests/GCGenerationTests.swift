// The gc generation (GCGeneration.swift), in each way a store commits: without a log (two stores of one
// file, as two processes), through the log shared by processes (likewise), and exclusively. A vacuum by
// either store bumps the generation both see; a commit checked under the one before is refused and
// writes nothing; `missingObjects` names what the vacuum reclaimed.

import Foundation
import XCTest
@testable import Store

final class GCGenerationTests: XCTestCase {
    private let directory = TemporaryDirectory()

    func testWithoutALogACommitCheckedBeforeAnotherStoresGCIsRefused() throws {
        let path = directory.file("direct.lo")
        let committer = try SQLiteStore.open(path: path, create: true, exclusive: false, sharedLog: false)
        let collector = try SQLiteStore.open(path: path, exclusive: false, sharedLog: false)
        try checkRefusedAfterGC(committer: committer, collector: collector)
    }

    func testThroughTheSharedLogACommitCheckedBeforeAnotherStoresGCIsRefused() throws {
        let path = directory.file("shared.lo")
        let committer = try SQLiteStore.open(path: path, create: true, exclusive: false, sharedLog: true)
        let collector = try SQLiteStore.open(path: path, exclusive: false, sharedLog: true)
        try checkRefusedAfterGC(committer: committer, collector: collector)
    }

    func testOpenedExclusivelyACommitCheckedBeforeItsGCIsRefused() throws {
        let store = try SQLiteStore.open(path: directory.file("exclusive.lo"), create: true, exclusive: true)
        try checkRefusedAfterGC(committer: store, collector: store)
    }

    /// root → kept → dropped; then the root drops `dropped`, and `collector` vacuums it away.
    private func checkRefusedAfterGC(committer: SQLiteStore, collector: SQLiteStore, file: StaticString = #filePath, line: UInt = #line) throws {
        let oids = try committer.allocateOIDs(count: 3)
        let (root, kept, dropped) = (oids.lowerBound, oids.lowerBound + 1, oids.lowerBound + 2)
        func holder(_ value: Int, _ references: UInt64...) -> StoredObject {
            StoredObject(oid: root, classOID: kept, format: 1, slots: [smallInteger(value)] + references.map(ref))
        }
        let made = try committer.commit(base: try committer.headCommit(),
                                        writes: [holder(1, kept, dropped), object(kept, 0), object(dropped, 0)],
                                        roots: ["Smalltalk": root], author: "t", message: "make")
        let before = try committer.gcGeneration()
        let dropping = try committer.commit(base: made, writes: [holder(2, kept)], author: "t", message: "drop", gcGeneration: before)
        XCTAssertEqual(try collector.vacuum(retain: .zero).objectsRemoved, 1, file: file, line: line)

        let after = try committer.gcGeneration()
        XCTAssertNotEqual(after, before, "the gc is seen by the committer", file: file, line: line)
        XCTAssertEqual(try committer.missingObjects(among: [root, dropped, kept, dropped]), [dropped], file: file, line: line)
        XCTAssertThrowsError(try committer.commit(base: dropping, writes: [holder(3, kept, dropped)], author: "t",
                                                  message: "checked before the gc", gcGeneration: before), file: file, line: line) { error in
            XCTAssertEqual(error as? StoreError, .collectedMeanwhile(path: committer.path), file: file, line: line)
        }
        let head = try committer.headCommit()
        XCTAssertEqual(head, dropping, "nothing was written", file: file, line: line)
        XCTAssertEqual(try committer.commit(base: head, writes: [holder(3, kept)], author: "t", message: "checked after",
                                            gcGeneration: after), CommitID(head.rawValue + 1), file: file, line: line)
        XCTAssertEqual(try collector.check(), [], file: file, line: line)
    }
}
