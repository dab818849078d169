// A commit the disk refuses: the disk full (the store's page limit), or an I/O error (a file-size
// limit, RLIMIT_FSIZE, makes the writes fail). `System commit` signals an Error, the session keeps its
// changes, nothing reaches the image, and once the problem is gone a retry commits them.

import Foundation
import XCTest
@testable import LivingObjects
@testable import Store

final class CommitFailureTests: MasterImageTestCase {
    override class var master: MasterImage? { DurabilityImage.master }

    /// Changes an existing global and makes a new object of 4 MB (stored out of line), tries to
    /// commit while `problem` is in place, then again once it is gone.
    private func assertCommitFailsThenSucceeds(mentioning text: String, during problem: (SQLiteStore) throws -> Void,
                                               after cure: (SQLiteStore) throws -> Void,
                                               file: StaticString = #filePath, line: UInt = #line) throws {
        let rt = try Runtime(image: image)
        let store = try XCTUnwrap(rt.imageStore)
        _ = try rt.evaluateAndPrint("Counter := 2. Smalltalk at: #Fresh put: ((ByteArray new: 4000000) at: 4000000 put: 7; yourself). 0")
        let head = try store.headCommit()
        try problem(store)
        let failure = try rt.evaluateAndPrint("[System commit. 'committed'] on: Error do: [:e | e messageText]")
        try cure(store)
        XCTAssertTrue(failure.contains("cannot commit the image to \(image!)") && failure.contains(text), failure, file: file, line: line)
        XCTAssertEqual(try store.headCommit(), head, "nothing was committed", file: file, line: line)
        XCTAssertEqual(try Runtime(image: image).evaluateAndPrint("{ Counter. Smalltalk includesKey: #Fresh }"), "#(1 false)",
                       file: file, line: line)
        XCTAssertEqual(try rt.evaluateAndPrint("{ Counter. Fresh size. Fresh last }"), "#(2 4000000 7)",
                       "the session keeps its changes", file: file, line: line)

        XCTAssertEqual(try rt.evaluateAndPrint("System commit"), "true", file: file, line: line)
        XCTAssertEqual(try Runtime(image: image).evaluateAndPrint("{ Counter. Fresh size. Fresh last }"), "#(2 4000000 7)",
                       file: file, line: line)
        XCTAssertEqual(try ImageFile(path: image).check().problems, [], file: file, line: line)
    }

    /// Without the shared commit log (`LO_SHARED_LOG=0`), the commit is one SQLite transaction: the
    /// disk refuses it.
    func testACommitOnAFullDiskFailsAndTheRetryCommitsTheSameChanges() throws {
        let restore = setSharedLog("0")
        defer { restore() }
        var limit = 0
        try assertCommitFailsThenSucceeds(mentioning: "disk full", during: { store in
            XCTAssertNil(store.sharedLog, "opened without the shared log")
            limit = Int(try store.write { try $0.integer("PRAGMA page_count")! }) + 8
            try store.writer.withLock { try $0.execute("PRAGMA max_page_count = \(limit)") }
        }, after: { store in
            try store.writer.withLock { try $0.execute("PRAGMA max_page_count = 1073741823") }
        })
        XCTAssertGreaterThan(limit, 8)
    }

    /// With the shared commit log (the default), a commit whose record fits in the log's preallocated
    /// space is acknowledged even though the database cannot take it yet: it is durable and kept. Until
    /// there is space, reads of it fail with "disk full" (here the session's own, after the commit);
    /// then the image holds it.
    func testACommitOnAFullDiskWithTheSharedLogIsKeptAndReadOnceThereIsSpace() throws {
        let restore = setSharedLog("1")
        defer { restore() }
        let rt = try Runtime(image: image)
        let store = try XCTUnwrap(rt.imageStore)
        XCTAssertNotNil(store.sharedLog)
        _ = try rt.evaluateAndPrint("Counter := 2. Smalltalk at: #Fresh put: ((ByteArray new: 4000000) at: 4000000 put: 7; yourself). 0")
        let head = try store.headCommit()
        try store.drainLog()
        let limit = Int(try store.write { try $0.integer("PRAGMA page_count")! }) + 8
        try store.writer.withLock { try $0.execute("PRAGMA max_page_count = \(limit)") }

        _ = try? rt.evaluateAndPrint("System commit")  // what runs after it may need a read that fails
        let commit = try store.headCommit()
        XCTAssertEqual(commit.rawValue, head.rawValue + 1, "the commit is acknowledged")
        let fresh = try XCTUnwrap(rt.imageOID(of: try XCTUnwrap(rt.global("Fresh"))))
        XCTAssertThrowsError(try store.load(oid: fresh, asOf: commit)) { XCTAssertEqual($0 as? StoreError, .diskFull(path: image)) }
        XCTAssertTrue(FileManager.default.fileExists(atPath: image + "-log"))
        // What the commit did not write reads as before: the session goes on, and can handle errors
        // (it could load nothing, not even the code that handles them, and its process was stopped).
        XCTAssertNotNil(try store.load(oid: 1, asOf: commit))
        XCTAssertEqual(try rt.evaluateAndPrint("[#(3 1 2) asSortedCollection asArray] on: Error do: [:e | e messageText]"), "#(1 2 3)")

        try store.writer.withLock { try $0.execute("PRAGMA max_page_count = 1073741823") }
        XCTAssertEqual(try Runtime(image: image).evaluateAndPrint("{ Counter. Fresh size. Fresh last }"), "#(2 4000000 7)")
        XCTAssertEqual(try ImageFile(path: image).check().problems, [])
    }

    func testACommitWhoseWritesFailFailsAndTheRetryCommitsTheSameChanges() throws {
        // Writes past 256 KB of any file fail with EFBIG (SIGXFSZ ignored): the 4 MB commit cannot be
        // written, whether the WAL grows or starts again from its beginning.
        var saved = rlimit()
        XCTAssertEqual(getrlimit(RLIMIT_FSIZE_, &saved), 0)
        let previousHandler = signal(SIGXFSZ, SIG_IGN)
        defer {
            setrlimit(RLIMIT_FSIZE_, &saved)
            signal(SIGXFSZ, previousHandler)
        }
        try assertCommitFailsThenSucceeds(mentioning: "I/O error", during: { _ in
            var limited = saved
            limited.rlim_cur = 256 << 10
            XCTAssertEqual(setrlimit(RLIMIT_FSIZE_, &limited), 0)
        }, after: { _ in
            XCTAssertEqual(setrlimit(RLIMIT_FSIZE_, &saved), 0)
        })
    }
}

/// Sets `LO_SHARED_LOG` for the stores the test opens; answers what puts back the previous value.
private func setSharedLog(_ value: String) -> () -> Void {
    let previous = getenv("LO_SHARED_LOG").map { String(cString: $0) }
    setenv("LO_SHARED_LOG", value, 1)
    return { if let previous { setenv("LO_SHARED_LOG", previous, 1) } else { unsetenv("LO_SHARED_LOG") } }
}

/// RLIMIT_FSIZE as `getrlimit` and `setrlimit` take it on Glibc (an enum there, an Int32 elsewhere).
private let RLIMIT_FSIZE_ = __rlimit_resource_t(RLIMIT_FSIZE.rawValue)
