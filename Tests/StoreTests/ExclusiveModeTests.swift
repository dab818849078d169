// A store opened exclusively: commits go through the commit log and are applied to SQLite in the
// background; reads, conflict checks and history still see every acknowledged commit; other opens are
// refused; a log left behind is replayed.

import Foundation
import XCTest
@testable import Store

final class ExclusiveModeTests: XCTestCase {
    private let directory = TemporaryDirectory()

    /// Whether the store's log is removed within 10 s: a store closes when its last user lets go of it
    /// or, if an apply was running then, when that ends.
    private func logRemoved(_ path: String) -> Bool {
        waitUntil { !FileManager.default.fileExists(atPath: path + "-log") }
    }

    private func value(_ store: SQLiteStore, _ oid: UInt64, asOf commit: CommitID) throws -> UInt64? {
        try store.load(oid: oid, asOf: commit)?.slots?.first
    }

    func testCommitsAreReadBackAtOnceAndKeptAfterClosing() throws {
        let path = directory.file("exclusive.lo")
        var commits: [CommitID] = []
        do {
            let store = try SQLiteStore.open(path: path, create: true, exclusive: true)
            _ = try store.allocateOIDs(count: 2000)
            XCTAssertTrue(FileManager.default.fileExists(atPath: path + "-log"))
            for i in 1...60 {
                let id = try store.commit(base: try store.headCommit(), writes: [object(1, i), object(UInt64(100 + i), i)],
                                          roots: ["r": 1], author: "me", message: "m\(i)")
                XCTAssertEqual(try store.headCommit(), id)
                XCTAssertEqual(try value(store, 1, asOf: id), smallInteger(i), "read right after the commit")
                commits.append(id)
            }
            XCTAssertEqual(try store.commits(limit: 1).first?.id, commits.last)
            XCTAssertEqual(try store.commits(limit: 1).first?.message, "m60")
            XCTAssertEqual(try store.changedOIDs(commit: commits.last!), [1, 160])
            XCTAssertEqual(try store.root(named: "r", asOf: commits.last!), 1)
            XCTAssertEqual(try store.check(), [])
        }
        XCTAssertTrue(logRemoved(path), "closing applies the log and removes it")
        let store = try SQLiteStore.open(path: path)
        XCTAssertEqual(try store.headCommit(), commits.last)
        for (i, id) in commits.enumerated() {
            XCTAssertEqual(try value(store, 1, asOf: id), smallInteger(i + 1))
            XCTAssertEqual(try value(store, UInt64(101 + i), asOf: id), smallInteger(i + 1))
        }
        XCTAssertEqual(try store.check(), [])
    }

    func testOtherOpensAreRefusedNamingTheHolder() throws {
        let path = directory.file("held.lo")
        do {
            let store = try SQLiteStore.open(path: path, create: true, exclusive: true)
            _ = try store.commit(base: try store.headCommit(), writes: [object(1, 1)], author: "a", message: "m")
            for exclusive in [false, true] {
                XCTAssertThrowsError(try SQLiteStore.open(path: path, exclusive: exclusive)) { error in
                    guard case let StoreError.inUse(errorPath, detail) = error else { return XCTFail("\(error)") }
                    XCTAssertEqual(errorPath, path)
                    XCTAssertTrue(detail.contains("process \(getpid()) holds it exclusively"), detail)
                }
            }
        }
        do {
            let shared = try SQLiteStore.open(path: path)
            let other = try SQLiteStore.open(path: path)
            XCTAssertThrowsError(try SQLiteStore.open(path: path, exclusive: true)) { error in
                guard case let StoreError.inUse(_, detail) = error else { return XCTFail("\(error)") }
                XCTAssertTrue(detail.contains("another process has it open"), detail)
            }
            XCTAssertEqual(try shared.headCommit(), try other.headCommit())
        }
        XCTAssertNoThrow(try SQLiteStore.open(path: path, exclusive: true), "once the others are closed")
    }

    func testAnotherProcessIsRefusedWhileAChildHoldsTheStore() throws {
        let executable = try storeTortureExecutable()
        let path = directory.file("child.lo")
        let child = Process()
        child.executableURL = executable
        child.arguments = [path]
        child.environment = ProcessInfo.processInfo.environment.merging(["LO_EXCLUSIVE": "1"]) { $1 }
        let output = Pipe()
        child.standardOutput = output
        try child.run()
        defer {
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
        }
        _ = output.fileHandleForReading.availableData  // its first acknowledged commit
        XCTAssertThrowsError(try SQLiteStore.open(path: path)) { error in
            guard case let StoreError.inUse(_, detail) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(detail.contains("process \(child.processIdentifier) holds it exclusively"), detail)
        }
    }

    func testConflictsWithLoggedAndAppliedCommits() throws {
        let path = directory.file("conflicts.lo")
        let before: CommitID, second: CommitID
        do {
            let store = try SQLiteStore.open(path: path, create: true)
            _ = try store.allocateOIDs(count: 2000)
            before = try store.commit(base: CommitID(0), writes: [object(1, 0), object(2, 0), object(3, 0)], author: "a", message: "m")
            second = try store.commit(base: before, writes: [object(1, 1)], roots: ["x": 1], author: "a", message: "m")
        }
        let store = try SQLiteStore.open(path: path, exclusive: true)
        // Commits before the store was opened are checked in SQLite.
        XCTAssertThrowsError(try store.commit(base: before, writes: [object(1, 2)], author: "a", message: "m")) { error in
            XCTAssertEqual(error as? CommitConflict, CommitConflict(oids: [1], roots: []))
        }
        XCTAssertThrowsError(try store.commit(base: before, writes: [object(3, 2)], roots: ["x": 3], author: "a", message: "m")) { error in
            XCTAssertEqual(error as? CommitConflict, CommitConflict(oids: [], roots: ["x"]))
        }
        // Commits made through the log are checked in memory, applied or not.
        let third = try store.commit(base: second, writes: [object(2, 3)], author: "a", message: "m")
        XCTAssertThrowsError(try store.commit(base: before, writes: [object(1, 4), object(2, 4), object(3, 4)], author: "a", message: "m")) { error in
            XCTAssertEqual(error as? CommitConflict, CommitConflict(oids: [1, 2], roots: []))
        }
        XCTAssertThrowsError(try store.commit(base: second, writes: [object(2, 5)], author: "a", message: "m")) { error in
            XCTAssertEqual(error as? CommitConflict, CommitConflict(oids: [2], roots: []))
        }
        XCTAssertThrowsError(try store.commit(base: CommitID(99), writes: [object(2, 5)], author: "a", message: "m")) { error in
            XCTAssertEqual(error as? StoreError, .noSuchCommit(CommitID(99)))
        }
        let fourth = try store.commit(base: second, writes: [object(3, 6)], author: "a", message: "m")
        XCTAssertEqual(fourth.rawValue, third.rawValue + 1, "failed commits take no id")
        XCTAssertEqual(try value(store, 3, asOf: fourth), smallInteger(6))
        XCTAssertEqual(try value(store, 2, asOf: fourth), smallInteger(3))
    }

    func testThreadsCommitSideBySide() throws {
        let store = try SQLiteStore.open(path: directory.file("threads.lo"), create: true, exclusive: true)
        _ = try store.allocateOIDs(count: 2000)
        let start = try store.commit(base: CommitID(0), writes: [object(1000, 0)], author: "a", message: "start")
        runThreads(8) { thread in
            for i in 1...40 {
                _ = try store.commit(base: try store.headCommit(), writes: [object(UInt64(thread + 1), i)], author: "t", message: "own")
                // One shared counter: retried on conflict, so every increment lands once.
                while true {
                    let head = try store.headCommit()
                    let current = Int(Int64(bitPattern: try store.load(oid: 1000, asOf: head)!.slots![0]) >> 3)
                    do {
                        _ = try store.commit(base: head, writes: [object(1000, current + 1)], author: "t", message: "shared")
                        break
                    } catch is CommitConflict {}
                }
            }
        }
        let head = try store.headCommit()
        XCTAssertGreaterThan(head, start)
        for thread in 0..<8 { XCTAssertEqual(try value(store, UInt64(thread + 1), asOf: head), smallInteger(40)) }
        XCTAssertEqual(try value(store, 1000, asOf: head), smallInteger(320))
        XCTAssertEqual(try store.commits(limit: 1000).filter { $0.message == "shared" }.count, 320)
        XCTAssertEqual(try store.check(), [])
    }

    func testRollbackVacuumAndBackupSeeEveryCommit() throws {
        let path = directory.file("upkeep.lo")
        let store = try SQLiteStore.open(path: path, create: true, exclusive: true)
        _ = try store.allocateOIDs(count: 2000)
        let first = try store.commit(base: CommitID(0), writes: [object(1, 1)], roots: ["a": 1], author: "a", message: "m")
        let second = try store.commit(base: first, writes: [object(1, 2)], author: "a", message: "m")
        let rolledBack = try store.rollback(to: first, author: "a")
        XCTAssertEqual(rolledBack.rawValue, second.rawValue + 1)
        XCTAssertEqual(try store.headCommit(), rolledBack)
        XCTAssertEqual(try value(store, 1, asOf: rolledBack), smallInteger(1))
        XCTAssertThrowsError(try store.commit(base: second, writes: [object(1, 3)], author: "a", message: "m"),
                             "sessions based before the rollback conflict with it")
        let after = try store.commit(base: rolledBack, writes: [object(1, 4)], author: "a", message: "m")
        XCTAssertEqual(after.rawValue, rolledBack.rawValue + 1)
        try store.vacuum(retain: .seconds(3600))
        try store.checkpoint(name: "cp", commit: after)
        try store.backup(to: path + ".copy")
        let copy = try SQLiteStore.open(path: path + ".copy")
        XCTAssertEqual(try copy.headCommit(), after)
        XCTAssertEqual(try value(copy, 1, asOf: after), smallInteger(4))
        XCTAssertEqual(try store.check(), [])
    }

    func testALogLeftBehindIsReplayedWhenTheStoreIsOpened() throws {
        let path = directory.file("left.lo")
        let head: CommitID
        do {
            let store = try SQLiteStore.open(path: path, create: true)
            _ = try store.allocateOIDs(count: 2000)
            head = try store.commit(base: CommitID(0), writes: [object(1, 1)], author: "a", message: "m")
        }
        // What a holder killed after its log sync, before applying, leaves: records SQLite lacks.
        let (log, _) = try CommitLog.open(path: path + "-log", creatingAfter: head, holder: 1, preallocating: 8192)
        let big = StoredObject(oid: 7, classOID: 1, format: 16, bytes: [UInt8](repeating: 9, count: 100_000))
        let requests = try [
            CommitRequest(base: head, writes: [object(1, 2), big], roots: ["r": 7], removingRoots: [], methods: [],
                          author: "killed", message: "one"),
            CommitRequest(base: head, writes: [object(1, 3)], roots: [:], removingRoots: ["r"],
                          methods: [MethodChange(className: "Foo", selector: "bar", category: "c", source: "bar ^1")],
                          shapes: [ClassShape(classOID: 1, classIndex: 40, format: 1, names: ["x"])], author: "killed", message: "two"),
        ]
        try log.append(requests.map { LoggedCommit.encode($0, time: 1000) })
        try log.sync()
        for exclusive in [false, true] {
            let copy = path + (exclusive ? ".x" : ".n")
            for suffix in ["", "-log"] { try FileManager.default.copyItem(atPath: path + suffix, toPath: copy + suffix) }
            do {
                let store = try SQLiteStore.open(path: copy, exclusive: exclusive)
                let newest = CommitID(head.rawValue + 2)
                XCTAssertEqual(try store.headCommit(), newest)
                XCTAssertEqual(try value(store, 1, asOf: CommitID(head.rawValue + 1)), smallInteger(2))
                XCTAssertEqual(try value(store, 1, asOf: newest), smallInteger(3))
                guard case let .largeBytes(large)? = try store.load(oid: 7, asOf: newest)?.contents else { return XCTFail("bytes out of line") }
                var read = 0
                try store.readLargeBytes(large) { read += $0.filter { $0 == 9 }.count }
                XCTAssertEqual(read, 100_000)
                XCTAssertEqual(try store.root(named: "r", asOf: CommitID(head.rawValue + 1)), 7)
                XCTAssertNil(try store.root(named: "r", asOf: newest))
                XCTAssertEqual(try store.methodVersions(className: "Foo", selector: "bar").first?.method.source, "bar ^1")
                XCTAssertEqual(try store.classShapes(of: [1]), [ClassShape(classOID: 1, classIndex: 40, format: 1, names: ["x"])])
                XCTAssertEqual(try store.commits(limit: 2).map(\.message), ["two", "one"])
                XCTAssertEqual(try store.commits(limit: 1).first?.time, Date(timeIntervalSince1970: 1000))
                XCTAssertEqual(try store.check(), [])
            }
            XCTAssertTrue(logRemoved(copy))
            // Opened again: nothing to replay twice.
            XCTAssertEqual(try SQLiteStore.open(path: copy).headCommit(), CommitID(head.rawValue + 2))
        }
    }

    func testALogThatDoesNotFitTheStoreIsAClearError() throws {
        let path = directory.file("unfit.lo")
        do { _ = try SQLiteStore.open(path: path, create: true).commit(base: CommitID(0), writes: [object(1, 1)], author: "a", message: "m") }
        let (log, _) = try CommitLog.open(path: path + "-log", creatingAfter: CommitID(5), preallocating: 8192)
        try log.append([LoggedCommit.encode(try CommitRequest(base: CommitID(5), writes: [object(1, 2)], roots: [:], removingRoots: [],
                                                              methods: [], author: "a", message: "m"), time: 0)])
        try log.sync()
        XCTAssertThrowsError(try SQLiteStore.open(path: path)) { error in
            guard case let StoreError.corrupt(errorPath, detail) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(errorPath, path + "-log")
            XCTAssertTrue(detail.contains("starts at commit 6"), detail)
        }
        FileManager.default.createFile(atPath: path + "-log", contents: Data("not a log at all".utf8))
        XCTAssertThrowsError(try SQLiteStore.open(path: path, exclusive: true)) { error in
            guard case StoreError.notAStore(path + "-log", _) = error else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(FileManager.default.contents(atPath: path + "-log"), Data("not a log at all".utf8), "left alone")
    }

    func testDamagedPayloadsAreRefusedNotCrashedOn() throws {
        let request = try CommitRequest(base: CommitID(1), writes: [object(1, 2), object(9, 3)], roots: ["a": 1], removingRoots: ["b"],
                                        methods: [MethodChange(className: "C", selector: "s", source: "s")], author: "a", message: "m")
        let payload = LoggedCommit.encode(request, time: 12.5)
        let decoded = try XCTUnwrap(LoggedCommit.decode(payload, as: CommitID(2)))
        XCTAssertEqual(decoded.time, 12.5)
        XCTAssertEqual(decoded.request.records, request.records)
        XCTAssertEqual(decoded.request.changed, request.changed)
        XCTAssertEqual(decoded.request.methods, request.methods)
        XCTAssertEqual(decoded.request.roots.map(\.name).sorted(), ["a", "b"])
        for cut in 0..<payload.count { XCTAssertNil(LoggedCommit.decode(Array(payload.prefix(cut)), as: CommitID(2)), "cut at \(cut)") }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            var damaged = payload
            damaged[Int.random(in: 0..<damaged.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            _ = LoggedCommit.decode(damaged, as: CommitID(2))  // nil or some commit, never a crash
            _ = LoggedCommit.keys(damaged)
        }
    }

    /// How the holder of the writers' turn checks a post without decoding it (SharedLogCommits.swift):
    /// whatever the damage, a payload has validated keys exactly when it decodes, and they are the
    /// decoded commit's.
    func testValidatedKeysAreAnsweredExactlyWhenThePayloadDecodes() throws {
        let request = try CommitRequest(base: CommitID(1), writes: [object(1, 2), object(9, 3)], roots: ["a": 1], removingRoots: ["b"],
                                        methods: [MethodChange(className: "C", selector: "s", category: "accessing", source: "s ^1")],
                                        shapes: [ClassShape(classOID: 40, classIndex: 300, format: 1, names: ["x", "y"])],
                                        author: "ann", message: "ünïcode")
        let payload = LoggedCommit.encode(request, time: 12.5)
        func assertAgree(_ bytes: [UInt8], _ what: @autoclosure () -> String) {
            let decoded = LoggedCommit.decode(bytes, as: CommitID(2)), keys = LoggedCommit.keys(bytes, validating: true)
            XCTAssertEqual(keys != nil, decoded != nil, what())
            guard let decoded, let keys else { return }
            XCTAssertEqual(keys.oids, decoded.request.writes.map(\.oid), what())
            XCTAssertEqual(keys.roots, decoded.request.roots.map(\.name), what())
        }
        assertAgree(payload, "whole")
        XCTAssertEqual(LoggedCommit.keys(payload, validating: true)?.oids, [1, 9])
        for cut in 0..<payload.count { assertAgree(Array(payload.prefix(cut)), "cut at \(cut)") }
        assertAgree(payload + [0], "a byte past the end")
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<3000 {
            var damaged = payload
            let at = Int.random(in: 0..<damaged.count, using: &generator), byte = UInt8.random(in: 0...255, using: &generator)
            damaged[at] = byte
            assertAgree(damaged, "byte \(at) set to \(byte)")
        }
        // A byte that is not UTF-8 in the message, in the method's source, in a shape's name: refused.
        for text in ["ünïcode", "s ^1", "y"] {
            var damaged = payload
            let range = try XCTUnwrap(damaged.firstRange(of: Array(text.utf8)))
            damaged[range.lowerBound] = 0xFF
            assertAgree(damaged, "not UTF-8 in \(text)")
            XCTAssertNil(LoggedCommit.keys(damaged, validating: true), text)
            XCTAssertNotNil(LoggedCommit.keys(damaged), "without validating, only the keys are read")
        }
    }

    /// What processes that only read a record keep of it (SharedLog.swift): the keys its conflict
    /// checks need, read without decoding the rest.
    func testAPayloadsKeysAreWhatItsCommitWrites() throws {
        let request = try CommitRequest(base: CommitID(1), writes: [object(9, 3), object(1, 2)], roots: ["a": 1], removingRoots: ["b"],
                                        methods: [MethodChange(className: "C", selector: "s", source: "s")], author: "a", message: "m")
        let payload = LoggedCommit.encode(request, time: 12.5)
        let keys = try XCTUnwrap(LoggedCommit.keys(payload))
        XCTAssertEqual(keys.oids, [1, 9])
        XCTAssertEqual(keys.roots.sorted(), ["a", "b"])
        var recent = RecentWrites(since: CommitID(1))
        recent.record(keys, as: CommitID(2))
        XCTAssertThrowsError(try recent.checkConflicts(request)) { error in
            XCTAssertEqual((error as? CommitConflict)?.oids, [1, 9])
        }
        let later = try CommitRequest(base: CommitID(2), writes: [object(9, 4)], roots: [:], removingRoots: [], methods: [], author: "a", message: "m")
        XCTAssertNoThrow(try recent.checkConflicts(later))
        // Cut anywhere before its roots end, a payload has no keys. (The same commit without the method
        // is the same bytes up to there, then a count of methods and one of shapes, both zero.)
        let withoutMethods = try CommitRequest(base: CommitID(1), writes: [object(9, 3), object(1, 2)], roots: ["a": 1], removingRoots: ["b"],
                                               methods: [], author: "a", message: "m")
        let rootsEnd = LoggedCommit.encode(withoutMethods, time: 12.5).count - 2
        XCTAssertNotNil(LoggedCommit.keys(Array(payload.prefix(rootsEnd))))
        for cut in 0..<rootsEnd { XCTAssertNil(LoggedCommit.keys(Array(payload.prefix(cut))), "cut at \(cut)") }
    }
}
