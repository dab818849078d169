// The writers' turn (WriterTurn.swift): commits of different stores on one file (each with its own
// connections and its own mapping of the shared page, as processes have) wait for each other asleep,
// not by polling SQLite's lock; a holder that dies or stops blocks nobody; a writer whose snapshot
// others made stale lets it go before BEGIN instead of being refused.

import Foundation
import Synchronization
import XCTest
@testable import Store

final class WriterTurnTests: XCTestCase {
    private let directory = TemporaryDirectory()

    private func group(_ store: SQLiteStore) -> GroupSync { store.walSync.group! }
    private func busyWaits(_ store: SQLiteStore) -> Int { store.writer.withLock { $0.busyWaits } }

    /// A thread that takes the turn of `store`'s page, then holds it until told.
    private final class TurnHolder: Sendable {
        private let release = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)

        init(_ group: GroupSync) {
            let taken = DispatchSemaphore(value: 0)
            Thread { [self] in
                let turn = group.takeWriterTurn {}
                precondition(turn.held)
                taken.signal()
                release.wait()
                group.endWriterTurn(turn, committed: false)
                done.signal()
            }.start()
            taken.wait()
        }

        /// Lets go of the turn (on the thread that holds it).
        func end() {
            release.signal()
            done.wait()
        }
    }

    private func twoStores(_ name: String) throws -> (SQLiteStore, SQLiteStore, ClosedRange<UInt64>) {
        let path = directory.file(name)
        let first = try SQLiteStore.open(path: path, create: true, sharedLog: false), second = try SQLiteStore.open(path: path, sharedLog: false)
        let oids = try first.allocateOIDs(count: 2)
        _ = try second.allocateOIDs(count: 1)  // opens the page
        return (first, second, oids.lowerBound...oids.upperBound - 1)
    }

    /// While another holds the turn, a commit sleeps, without polling SQLite's lock and without holding
    /// its snapshot (a RESTART checkpoint of the holder would wait for it); it goes on once the turn is free.
    func testACommitWaitsForTheTurnAsleep() throws {
        let (first, second, oids) = try twoStores("asleep.lo")
        group(second).stuckAfter.store(60_000_000_000, ordering: .relaxed)
        _ = try second.commit(base: try second.headCommit(), writes: [object(oids.lowerBound + 1, 1)], author: "t", message: "held")
        XCTAssertTrue(second.writer.withLock { $0.holdsSnapshot }, "alone, a commit keeps its snapshot")

        let holder = TurnHolder(group(first))
        let waits = busyWaits(second)
        let commit = BackgroundCommit(second, oids.lowerBound + 1, 2)
        usleep(200_000)
        XCTAssertFalse(commit.returned, "no commit while another holds the turn")
        XCTAssertTrue(group(second).isWriterTurnTakenElsewhere)
        holder.end()
        commit.wait()
        XCTAssertEqual(busyWaits(second), waits, "it slept on the turn, not in SQLite's busy handler")
        XCTAssertEqual(group(second).turnsPassed.load(ordering: .relaxed), 0)
        XCTAssertEqual(try first.load(oid: oids.lowerBound + 1, asOf: try first.headCommit())?.slots, [smallInteger(2)])
    }

    /// A holder that dies (its thread exits holding the robust mutex) is taken over by the next commit.
    func testAHolderThatDiesIsTakenOver() throws {
        let (first, second, oids) = try twoStores("died.lo")
        group(second).stuckAfter.store(60_000_000_000, ordering: .relaxed)
        let dying = Unmanaged.passRetained(group(first))
        var thread = pthread_t()
        XCTAssertEqual(pthread_create(&thread, nil, { context in
            let group = Unmanaged<GroupSync>.fromOpaque(context!).takeRetainedValue()
            precondition(group.takeWriterTurn {}.held)
            return nil  // exits holding the turn
        }, dying.toOpaque()), 0)
        XCTAssertEqual(pthread_join(thread, nil), 0)
        let head = try second.commit(base: try second.headCommit(), writes: [object(oids.lowerBound, 1)], author: "t", message: "after")
        XCTAssertEqual(group(second).recoveredLocks.load(ordering: .relaxed), 1, "taken over from the dead holder")
        XCTAssertEqual(group(second).turnsPassed.load(ordering: .relaxed), 0)
        XCTAssertFalse(group(second).isWriterTurnTakenElsewhere)
        XCTAssertEqual(try second.load(oid: oids.lowerBound, asOf: head)?.slots, [smallInteger(1)])
    }

    /// A holder that does not let go (a stopped process) is waited for at most `stuckAfter`; commits that
    /// come later pass it at once, on SQLite's lock alone.
    func testAStuckHolderIsPassed() throws {
        let (first, second, oids) = try twoStores("stuck.lo")
        group(second).stuckAfter.store(2_000_000_000, ordering: .relaxed)  // 2 s: far above a loaded disk's fsync
        // Timed from before the holder takes the turn: the wait is timed from then, however long the
        // test itself is held up in between.
        let started = Date()
        let holder = TurnHolder(group(first))
        defer { holder.end() }
        var head = try second.commit(base: try second.headCommit(), writes: [object(oids.lowerBound, 1)], author: "t", message: "passed")
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 2)
        XCTAssertEqual(group(second).turnsPassed.load(ordering: .relaxed), 1)
        let again = Date()
        head = try second.commit(base: head, writes: [object(oids.lowerBound, 2)], author: "t", message: "passed again")
        XCTAssertLessThan(Date().timeIntervalSince(again), 1.5, "no second wait for a stuck holder")
        XCTAssertEqual(group(second).turnsPassed.load(ordering: .relaxed), 2)
        XCTAssertEqual(try first.load(oid: oids.lowerBound, asOf: head)?.slots, [smallInteger(2)])
    }

    /// Two stores committing in turn: each finds that the other committed since its own last commit,
    /// so it holds no snapshot and no BEGIN is refused; alone again, it holds one.
    func testWritersThatTakeTurnsHoldNoStaleSnapshot() throws {
        let (first, second, oids) = try twoStores("stale.lo")
        var head = try first.headCommit()
        for value in 1...20 {
            for (index, store) in [first, second].enumerated() {
                head = try store.commit(base: head, writes: [object(oids.lowerBound + UInt64(index), value)], author: "t", message: "turns")
            }
        }
        for store in [first, second] {
            XCTAssertEqual(store.writer.withLock { $0.heldSnapshot.staleBegins }, 0, "no BEGIN refused")
        }
        XCTAssertFalse(first.writer.withLock { $0.holdsSnapshot })
        head = try first.commit(base: head, writes: [object(oids.lowerBound, 21)], author: "t", message: "others")
        head = try first.commit(base: head, writes: [object(oids.lowerBound, 22)], author: "t", message: "alone")
        XCTAssertTrue(first.writer.withLock { $0.holdsSnapshot }, "alone again: holds its snapshot")
        XCTAssertEqual(try second.load(oid: oids.lowerBound, asOf: head)?.slots, [smallInteger(22)])
    }
}
