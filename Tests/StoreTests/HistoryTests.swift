// History: the commit log, checkpoints, method versions and rollback.

import XCTest
@testable import Store

final class HistoryTests: XCTestCase {
    private let directory = TemporaryDirectory()
    private lazy var store = try! SQLiteStore.open(path: directory.file("image.lo"), create: true)

    private func object(_ oid: UInt64, _ value: Int, refersTo other: UInt64? = nil) -> StoredObject {
        StoredObject(oid: oid, classOID: oid, format: 1, slots: [smallInteger(value)] + (other.map { [ref($0)] } ?? []))
    }

    func testTheLogListsCommitsNewestFirstWithTheirObjectCounts() throws {
        let oids = try store.allocateOIDs(count: 3)
        let first = try store.commit(base: try store.headCommit(), writes: oids.map { object($0, 0) }, author: "ann", message: "three")
        let second = try store.commit(base: first, writes: [object(oids.lowerBound, 1)], author: "bob", message: "one")
        let log = try store.commits(limit: 2)
        XCTAssertEqual(log.map(\.id), [second, first])
        XCTAssertEqual(log.map(\.author), ["bob", "ann"])
        XCTAssertEqual(log.map(\.objectCount), [1, 3])
        XCTAssertEqual(try store.commits(limit: 5, before: second).map(\.id), [first, CommitID(1)])
        XCTAssertEqual(try store.changedOIDs(commit: second), [oids.lowerBound])
        XCTAssertLessThan(abs(log[0].time.timeIntervalSinceNow), 60)
    }

    func testEveryVersionStaysReadableAsOfItsCommit() throws {
        let oid = try store.allocateOIDs(count: 1).lowerBound
        var commits: [CommitID] = []
        var base = try store.headCommit()
        for value in 0..<5 {
            base = try store.commit(base: base, writes: [object(oid, value)], author: "t", message: "v\(value)")
            commits.append(base)
        }
        for (value, commit) in commits.enumerated() {
            XCTAssertEqual(try store.load(oid: oid, asOf: commit)?.slots, [smallInteger(value)])
        }
    }

    func testMethodVersionsComeBackNewestFirst() throws {
        var base = try store.headCommit()
        for (index, source) in ["foo ^ 1", "foo ^ 2", "foo ^ 3"].enumerated() {
            base = try store.commit(base: base, writes: [],
                                    methodVersions: [MethodChange(className: "Bar", classOID: 77, selector: "foo", category: "acc", source: source),
                                                     MethodChange(className: "Bar class", selector: "foo", source: "other \(index)")],
                                    author: "dev\(index)", message: "edit foo")
        }
        let versions = try store.methodVersions(className: "Bar", selector: "foo")
        XCTAssertEqual(versions.map(\.method.source), ["foo ^ 3", "foo ^ 2", "foo ^ 1"])
        XCTAssertEqual(versions.map(\.author), ["dev2", "dev1", "dev0"])
        XCTAssertEqual(versions.first?.commit, base)
        XCTAssertEqual(versions.first?.method.classOID, 77)
        XCTAssertEqual(versions.first?.method.category, "acc")
        XCTAssertEqual(try store.methodVersions(className: "Bar", selector: "baz"), [])
    }

    func testCheckpointsNameCommits() throws {
        let oid = try store.allocateOIDs(count: 1).lowerBound
        let first = try store.commit(base: try store.headCommit(), writes: [object(oid, 1)], author: "t", message: "one")
        try store.checkpoint(name: "release-1", commit: first)
        let second = try store.commit(base: first, writes: [object(oid, 2)], author: "t", message: "two")
        try store.checkpoint(name: "release-2", commit: second)
        XCTAssertEqual(try store.checkpoints().map(\.name), ["release-1", "release-2"])
        XCTAssertEqual(try store.checkpoints().map(\.commit), [first, second])
        try store.checkpoint(name: "release-1", commit: second)
        XCTAssertEqual(try store.checkpoints().first { $0.name == "release-1" }?.commit, second)
        try store.removeCheckpoint(name: "release-2")
        XCTAssertEqual(try store.checkpoints().map(\.name), ["release-1"])
        XCTAssertThrowsError(try store.checkpoint(name: "nowhere", commit: CommitID(999)))
    }

    func testRollbackCommitsTheOldStateAnewAndRestoresARemovedRoot() throws {
        let oids = try store.allocateOIDs(count: 3)
        let (system, account, later) = (oids.lowerBound, oids.lowerBound + 1, oids.lowerBound + 2)
        let good = try store.commit(base: try store.headCommit(), writes: [object(system, 1, refersTo: account), object(account, 100)],
                                    roots: ["Smalltalk": system, "Accounts": account], author: "t", message: "good state")
        let bad1 = try store.commit(base: good, writes: [object(account, -5), object(later, 0)], author: "t", message: "bad edit")
        let bad2 = try store.commit(base: bad1, writes: [], removingRoots: ["Accounts"], author: "t", message: "drop a root")
        XCTAssertNil(try store.root(named: "Accounts", asOf: bad2))

        let rolledBack = try store.rollback(to: good, author: "admin")
        XCTAssertEqual(rolledBack.rawValue, bad2.rawValue + 1, "a rollback is a new commit")
        XCTAssertEqual(try store.root(named: "Accounts", asOf: rolledBack), account)
        XCTAssertEqual(try store.roots(asOf: rolledBack), try store.roots(asOf: good))
        XCTAssertEqual(try store.load(oid: account, asOf: rolledBack), object(account, 100))
        XCTAssertEqual(try store.load(oid: later, asOf: rolledBack), object(later, 0), "objects created later stay")
        XCTAssertEqual(try store.changedOIDs(commit: rolledBack), [account])
        XCTAssertEqual(try store.commits(limit: 1).first?.message, "Rollback to #\(good.rawValue)")
        // History is not rewritten: the bad states can still be read, and the rollback rolled back.
        XCTAssertEqual(try store.load(oid: account, asOf: bad2), object(account, -5))
        let again = try store.rollback(to: bad2, author: "admin")
        XCTAssertEqual(try store.load(oid: account, asOf: again), object(account, -5))
        XCTAssertNil(try store.root(named: "Accounts", asOf: again))
    }

    func testASessionBasedBeforeARollbackConflictsWithIt() throws {
        let oid = try store.allocateOIDs(count: 1).lowerBound
        let first = try store.commit(base: try store.headCommit(), writes: [object(oid, 1)], author: "t", message: "one")
        let second = try store.commit(base: first, writes: [object(oid, 2)], author: "t", message: "two")
        _ = try store.rollback(to: first, author: "admin")
        XCTAssertThrowsError(try store.commit(base: second, writes: [object(oid, 3)], author: "t", message: "stale")) {
            XCTAssertEqual(($0 as? CommitConflict)?.rollback, CommitID(second.rawValue + 1))
        }
    }

    /// An object made after the rollback's target is not written by the rollback (it is left
    /// unreachable): a session based before the rollback that changes it must still conflict, or its
    /// change would be acknowledged and lost. Sessions based on the rollback commit freely.
    func testASessionBasedBeforeARollbackConflictsEvenOnObjectsTheRollbackDidNotWrite() throws {
        let oids = try store.allocateOIDs(count: 2)
        let (root, later) = (oids.lowerBound, oids.lowerBound + 1)
        let first = try store.commit(base: try store.headCommit(), writes: [object(root, 1)], roots: ["R": root], author: "t", message: "one")
        let second = try store.commit(base: first, writes: [object(root, 2, refersTo: later), object(later, 0)], author: "t", message: "two")
        let rollback = try store.rollback(to: first, author: "admin")
        XCTAssertEqual(try store.changedOIDs(commit: rollback), [root])
        XCTAssertThrowsError(try store.commit(base: second, writes: [object(later, 42)], author: "t", message: "stale")) {
            XCTAssertEqual(($0 as? CommitConflict)?.rollback, rollback)
            XCTAssertTrue("\($0)".contains("rollback"), "\($0)")
        }
        let after = try store.commit(base: rollback, writes: [object(later, 43)], author: "t", message: "fresh")
        XCTAssertThrowsError(try store.commit(base: second, writes: [object(root, 5)], author: "t", message: "stale again"))
        XCTAssertNoThrow(try store.commit(base: after, writes: [object(root, 6)], author: "t", message: "fresh again"))
    }

    func testMessagesAndSourcesKeepEveryCharacterNULsToo() throws {
        let source = "bar ^ 'a\u{0}b' , ''"
        _ = try store.commit(base: try store.headCommit(), writes: [],
                             methodVersions: [MethodChange(className: "Foo", selector: "bar", category: "", source: source)],
                             author: "", message: "one\u{0}two")
        XCTAssertEqual(try store.commits(limit: 1).first?.message, "one\u{0}two")
        XCTAssertEqual(try store.commits(limit: 1).first?.author, "")
        XCTAssertEqual(try store.methodVersions(className: "Foo", selector: "bar").map(\.method.source), [source])
        XCTAssertEqual(try store.methodVersions(className: "Foo", selector: "bar").map(\.method.category), [""], "empty, not null")
    }

    func testACheckpointNameIsOneNameWhetherItsAccentsAreComposedOrNot() throws {
        let oid = try store.allocateOIDs(count: 1).lowerBound
        let first = try store.commit(base: try store.headCommit(), writes: [object(oid, 1)], author: "t", message: "one")
        let second = try store.commit(base: first, writes: [object(oid, 2)], author: "t", message: "two")
        let composed = "caf\u{E9}", decomposed = "cafe\u{301}"
        try store.checkpoint(name: composed, commit: first)
        try store.checkpoint(name: decomposed, commit: second)
        XCTAssertEqual(try store.checkpoints().count, 1, "the second moved the first")
        let kept = try XCTUnwrap(store.checkpoints().first)
        XCTAssertEqual(kept.commit, second)
        XCTAssertEqual(Array(kept.name.utf8), Array(composed.utf8), "kept composed")
    }

    /// Reading as of a snapshot a vacuum thinned out would answer an older version of an object (the
    /// one the snapshot's was written over): refused instead.
    func testReadsAsOfASnapshotVacuumThinnedOutAreRefused() throws {
        let oid = try store.allocateOIDs(count: 1).lowerBound
        let first = try store.commit(base: try store.headCommit(), writes: [object(oid, 1)], roots: ["R": oid], author: "t", message: "one")
        try store.checkpoint(name: "one", commit: first)
        let second = try store.commit(base: first, writes: [object(oid, 2)], author: "t", message: "two")
        let third = try store.commit(base: second, writes: [object(oid, 3)], author: "t", message: "three")
        XCTAssertEqual(try store.load(oid: oid, asOf: second), object(oid, 2))
        _ = try store.vacuum(retain: .zero)
        XCTAssertThrowsError(try store.load(oid: oid, asOf: second)) { XCTAssertEqual($0 as? StoreError, .snapshotReclaimed(second)) }
        XCTAssertThrowsError(try store.headers(of: [oid], asOf: second))
        XCTAssertEqual(try store.load(oid: oid, asOf: first), object(oid, 1), "a checkpoint is kept whole")
        XCTAssertEqual(try store.load(oid: oid, asOf: third), object(oid, 3))
    }
}
