// Snapshots, optimistic conflicts and concurrent sessions.

import Foundation
import XCTest
@testable import Store

final class TransactionTests: XCTestCase {
    private let directory = TemporaryDirectory()

    /// A store holding one counter object [SmallInteger] under the root "counter".
    private func storeWithCounter() throws -> (SQLiteStore, UInt64) {
        let store = try SQLiteStore.open(path: directory.file("image.lo"), create: true)
        let oid = try store.allocateOIDs(count: 1).lowerBound
        _ = try store.commit(base: try store.headCommit(), writes: [counter(oid, 0)], roots: ["counter": oid],
                             author: "test", message: "counter")
        return (store, oid)
    }

    func testASnapshotDoesNotSeeLaterCommitsOfAnotherConnection() throws {
        let (writer, oid) = try storeWithCounter()
        let reader = try SQLiteStore.open(path: writer.path)
        let snapshot = try reader.headCommit()
        let later = try writer.commit(base: snapshot, writes: [counter(oid, 1)], author: "a", message: "1")

        XCTAssertEqual(try value(reader, oid, asOf: snapshot), 0)
        XCTAssertEqual(try reader.headCommit(), later)
        XCTAssertEqual(try value(reader, oid, asOf: later), 1)
    }

    func testAStaleWriteConflictsAndWritesNothingThenARetrySucceeds() throws {
        let (store, oid) = try storeWithCounter()
        let other = try SQLiteStore.open(path: store.path)
        let base = try store.headCommit()
        let bystander = try store.allocateOIDs(count: 1).lowerBound
        let winner = try other.commit(base: base, writes: [counter(oid, 1)], author: "other", message: "wins")

        XCTAssertThrowsError(try store.commit(base: base, writes: [counter(oid, 2), counter(bystander, 9)],
                                              author: "me", message: "loses")) {
            XCTAssertEqual($0 as? CommitConflict, CommitConflict(oids: [oid], roots: []))
        }
        XCTAssertEqual(try store.headCommit(), winner)
        XCTAssertNil(try store.load(oid: bystander, asOf: winner), "nothing of the failed commit is written")

        let retried = try store.commit(base: winner, writes: [counter(oid, 2), counter(bystander, 9)], author: "me", message: "retry")
        XCTAssertEqual(try value(store, oid, asOf: retried), 2)
    }

    func testWritesToDifferentObjectsDoNotConflict() throws {
        let (store, oid) = try storeWithCounter()
        let base = try store.headCommit()
        let other = try store.allocateOIDs(count: 1).lowerBound
        _ = try store.commit(base: base, writes: [counter(other, 5)], author: "a", message: "other object")
        let mine = try store.commit(base: base, writes: [counter(oid, 1)], author: "b", message: "counter")
        XCTAssertEqual(try value(store, oid, asOf: mine), 1)
        XCTAssertEqual(try value(store, other, asOf: mine), 5)
    }

    func testSettingARootChangedSinceTheBaseConflicts() throws {
        let (store, oid) = try storeWithCounter()
        let base = try store.headCommit()
        _ = try store.commit(base: base, writes: [], roots: ["Smalltalk": oid], author: "a", message: "root")
        XCTAssertThrowsError(try store.commit(base: base, writes: [], roots: ["Smalltalk": oid], author: "b", message: "root too")) {
            XCTAssertEqual(($0 as? CommitConflict)?.roots, ["Smalltalk"])
        }
    }

    func testConcurrentIncrementsWithRetriesLoseNoUpdate() throws {
        let (shared, oid) = try storeWithCounter()
        let second = try SQLiteStore.open(path: shared.path)  // a second "process" on the same file
        let threads = 6, increments = 25
        let conflicts = Locked(0)
        runThreads(threads) { thread in
            let store = thread.isMultiple(of: 2) ? shared : second
            for _ in 0..<increments {
                while true {
                    do {
                        let head = try store.headCommit()
                        let current = try value(store, oid, asOf: head)!
                        _ = try store.commit(base: head, writes: [counter(oid, current + 1)], author: "t\(thread)", message: "+1")
                        break
                    } catch is CommitConflict {
                        conflicts.mutate { $0 += 1 }
                    } catch {
                        XCTFail("unexpected \(error)")
                        return
                    }
                }
            }
        }
        let head = try shared.headCommit()
        XCTAssertEqual(try value(shared, oid, asOf: head), threads * increments)
        XCTAssertEqual(try shared.commits(limit: 1000).filter { $0.message == "+1" }.count, threads * increments)
        XCTAssertGreaterThan(conflicts.value, 0, "the threads should have raced for the counter")
        XCTAssertEqual(try shared.check(), [])
    }

    func testConcurrentSessionsOnOneStoreAllCommit() throws {
        let store = try SQLiteStore.open(path: directory.file("image.lo"), create: true)
        let sessions = 8, commitsEach = 20
        let oids = try store.allocateOIDs(count: sessions)
        let ids = Locked<[CommitID]>([])
        commitCounters(store, oids, sessions: sessions, commitsEach: commitsEach, ids: ids)
        XCTAssertEqual(Set(ids.value).count, sessions * commitsEach)
        XCTAssertLessThan(store.groupCommitStatistics.batches, store.groupCommitStatistics.commits, "some commits shared a transaction")
        let head = try store.headCommit()
        for session in 0..<sessions {
            XCTAssertEqual(try value(store, oids.lowerBound + UInt64(session), asOf: head), commitsEach - 1)
        }
    }

    /// Many batches in a row: a leader hands the lead on after four, and the waiters of a batch are
    /// woken together (CommitQueue.swift). Every commit returns, with its own id, and none is lost or
    /// left asleep (a lost wake-up or hand-off would leave its thread waiting for ever: the test waits
    /// 120 s at most).
    func testManyBatchesInARowAllReturn() throws {
        let store = try SQLiteStore.open(path: directory.file("batches.lo"), create: true)
        let sessions = 8, commitsEach = 150
        let oids = try store.allocateOIDs(count: sessions)
        let ids = Locked<[CommitID]>([])
        let finished = DispatchSemaphore(value: 0)
        Thread {
            commitCounters(store, oids, sessions: sessions, commitsEach: commitsEach, ids: ids)
            finished.signal()
        }.start()
        XCTAssertEqual(finished.wait(timeout: .now() + 120), .success, "every commit returned")
        XCTAssertEqual(Set(ids.value).count, sessions * commitsEach)
        let statistics = store.groupCommitStatistics
        XCTAssertEqual(statistics.commits, sessions * commitsEach)
        XCTAssertGreaterThan(statistics.batches, 4, "more batches than one leader leads")
        let head = try store.headCommit()
        for session in 0..<sessions {
            XCTAssertEqual(try value(store, oids.lowerBound + UInt64(session), asOf: head), commitsEach - 1)
        }
    }
}

/// Each of `sessions` threads commits its own counter (one of `oids`) `commitsEach` times on top of its
/// last commit, collecting the commit ids.
private func commitCounters(_ store: SQLiteStore, _ oids: Range<UInt64>, sessions: Int, commitsEach: Int,
                            ids: Locked<[CommitID]>) {
    runThreads(sessions) { session in
        let oid = oids.lowerBound + UInt64(session)
        var base = try store.headCommit()
        for round in 0..<commitsEach {
            do {
                base = try store.commit(base: base, writes: [counter(oid, round)], author: "s\(session)", message: "round")
                ids.mutate { $0.append(base) }
            } catch {
                XCTFail("session \(session): \(error)")
            }
        }
    }
}

private func counter(_ oid: UInt64, _ value: Int) -> StoredObject {
    StoredObject(oid: oid, classOID: oid, format: 1, slots: [smallInteger(value)])
}

private func value(_ store: SQLiteStore, _ oid: UInt64, asOf snapshot: CommitID) throws -> Int? {
    try store.load(oid: oid, asOf: snapshot)?.slots.map { Int(Int64(bitPattern: $0[0]) >> 3) }
}

final class Locked<Value>: @unchecked Sendable {
    private var stored: Value
    private let lock = NSLock()

    init(_ value: Value) { stored = value }

    var value: Value { lock.withLock { stored } }
    func mutate(_ body: (inout Value) -> Void) { lock.withLock { body(&stored) } }
}
