// Commits posted for the holder of the writers' turn (CommitPosts.swift): the holder appends them with
// its own, returns those it cannot append to their posters, and a holder that died leaves its posts
// to the next one, which neither loses nor doubles them. Two stores of one file in one process use the
// log as two processes would.

import CGroupSync
import Foundation
import Synchronization
import XCTest
@testable import Store

final class CommitPostTests: XCTestCase {
    private let directory = TemporaryDirectory()

    private func openPair(_ name: String) throws -> (SQLiteStore, SQLiteStore, SharedLog) {
        let path = directory.file(name)
        let first = try SQLiteStore.open(path: path, create: true, exclusive: false, sharedLog: true)
        let second = try SQLiteStore.open(path: path, exclusive: false, sharedLog: true)
        return (first, second, try XCTUnwrap(first.sharedLog))
    }

    private struct NeverPosted: Error, CustomStringConvertible {
        var description: String { "the commit was not posted within 10 s, though the turn was held" }
    }

    /// Runs `commit` on a thread of its own, which must post (the caller holds the turn); answers once
    /// the commit is posted, with a way to get its outcome.
    private func posting(_ shared: SharedLog, _ commit: @escaping @Sendable () throws -> CommitID) throws
        -> () -> Result<CommitID, any Error> {
        let outcome = Mutex<Result<CommitID, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread {
            let result = Result { try commit() }
            outcome.withLock { $0 = result }
            done.signal()
        }.start()
        let deadline = Date() + 10
        while !shared.hasPosts {
            guard Date() < deadline else { throw NeverPosted() }
            usleep(1000)
        }
        return {
            done.wait()
            return outcome.withLock { $0! }
        }
    }

    func testThePosterCommitIsAppendedWithTheHoldersOwn() throws {
        let (first, second, shared) = try openPair("posted.lo")
        let oids = try first.allocateOIDs(count: 2)
        let base = try first.commit(base: try first.headCommit(), writes: [object(oids.lowerBound, 1), object(oids.lowerBound + 1, 1)],
                                    author: "t", message: "make")
        try shared.takeTurn()
        let posted = try posting(shared) {
            try second.commit(base: base, writes: [object(oids.lowerBound + 1, 2)], author: "poster", message: "posted")
        }
        let own = try CommitRequest(base: base, writes: [object(oids.lowerBound, 2)], roots: [:], removingRoots: [], methods: [],
                                    author: "holder", message: "own")
        let results = try first.leadHoldingTurn([own], shared)
        let ownID = try XCTUnwrap(results.first).get()
        let postedID = try posted().get()
        XCTAssertEqual(ownID.rawValue, base.rawValue + 1)
        XCTAssertEqual(postedID.rawValue, base.rawValue + 2, "appended after the holder's own commit, in the same write")
        XCTAssertEqual(try second.headCommit(), postedID)
        XCTAssertEqual(try second.load(oid: oids.lowerBound + 1, asOf: postedID)?.slots, [smallInteger(2)])
        XCTAssertEqual(try first.load(oid: oids.lowerBound, asOf: postedID)?.slots, [smallInteger(2)])
        let history = try first.commits(limit: 2)
        XCTAssertEqual(history.map(\.message), ["posted", "own"])
        XCTAssertEqual(history.map(\.author), ["poster", "holder"])
        XCTAssertGreaterThanOrEqual(history[0].time, history[1].time, "a posted commit takes the time of its append")
        XCTAssertEqual(try first.check(), [])
    }

    func testAConflictingPostIsReturnedAndItsPosterGetsTheConflict() throws {
        let (first, second, shared) = try openPair("returned.lo")
        let oid = try first.allocateOIDs(count: 1).lowerBound
        let base = try first.commit(base: try first.headCommit(), writes: [object(oid, 1)], author: "t", message: "make")
        let newer = try first.commit(base: base, writes: [object(oid, 2)], author: "t", message: "newer")
        try shared.takeTurn()
        let posted = try posting(shared) {
            try second.commit(base: base, writes: [object(oid, 3)], author: "t", message: "stale")
        }
        XCTAssertEqual(try first.leadHoldingTurn([], shared).count, 0)
        XCTAssertThrowsError(try posted().get()) { error in
            XCTAssertEqual((error as? CommitConflict)?.oids, [oid])
        }
        XCTAssertEqual(try second.headCommit(), newer)
        XCTAssertEqual(try second.load(oid: oid, asOf: newer)?.slots, [smallInteger(2)])
    }

    /// A gc between the poster's check of what its commit refers to and the holder's append (here the
    /// generation is bumped as a gc in the turn does) returns the post; its poster's own try is refused.
    func testAPostCheckedBeforeAGCIsReturnedAndItsPosterToldToCheckAgain() throws {
        let (first, second, shared) = try openPair("collected.lo")
        let oid = try first.allocateOIDs(count: 1).lowerBound
        let base = try first.commit(base: try first.headCommit(), writes: [object(oid, 1)], author: "t", message: "make")
        let checkedUnder = try second.gcGeneration()
        try shared.takeTurn()
        let posted = try posting(shared) {
            try second.commit(base: base, writes: [object(oid, 2)], author: "t", message: "checked before the gc",
                              gcGeneration: checkedUnder)
        }
        lo_gc_generation_bump(shared.page.area)
        XCTAssertEqual(try first.leadHoldingTurn([], shared).count, 0)
        XCTAssertThrowsError(try posted().get()) { error in
            XCTAssertEqual(error as? StoreError, .collectedMeanwhile(path: second.path))
        }
        XCTAssertEqual(try second.headCommit(), base, "nothing appended")
        XCTAssertNotEqual(try second.gcGeneration(), checkedUnder)
        XCTAssertEqual(try second.commit(base: base, writes: [object(oid, 2)], author: "t", message: "checked again",
                                         gcGeneration: try second.gcGeneration()).rawValue, base.rawValue + 1)
    }

    /// A post is checked as a whole before it is appended: one whose payload does not decode is
    /// returned (its poster then commits it itself, and meets the error), and nothing is appended.
    func testAPostThatDoesNotDecodeIsReturnedNotAppended() throws {
        let (first, _, shared) = try openPair("undecodable.lo")
        let oid = try first.allocateOIDs(count: 1).lowerBound
        let base = try first.commit(base: try first.headCommit(), writes: [object(oid, 1)], author: "t", message: "make")
        let request = try CommitRequest(base: base, writes: [object(oid, 5)], roots: [:], removingRoots: [], methods: [],
                                        author: "t", message: "posted")
        var payload = LoggedCommit.encode(request, time: 1)
        payload[payload.firstRange(of: Array("posted".utf8))!.lowerBound] = 0xFF  // its message is not UTF-8
        XCTAssertNotNil(LoggedCommit.keys(payload), "its keys alone read")
        try shared.takeTurn()
        let index = try XCTUnwrap(shared.post([(payload, base, nil)])?.first)
        XCTAssertEqual(try first.leadHoldingTurn([], shared).count, 0)
        guard case .returned = shared.postState(index) else { return XCTFail("\(shared.postState(index))") }
        shared.freePost(index)
        XCTAssertEqual(try first.headCommit(), base, "nothing appended")
        XCTAssertEqual(try first.load(oid: oid, asOf: base)?.slots, [smallInteger(1)])
        XCTAssertEqual(try first.check(), [])
    }

    /// Two stores of a new file, an object made, and, holding the writers' turn, a commit of it posted.
    private func postACommitHoldingTheTurn(_ name: String) throws
        -> (SQLiteStore, SQLiteStore, SharedLog, Range<UInt64>, CommitID, Int) {
        let (first, second, shared) = try openPair(name)
        let oids = try first.allocateOIDs(count: 2)
        let base = try first.commit(base: try first.headCommit(), writes: [object(oids.lowerBound, 1)], author: "t", message: "make")
        let request = try CommitRequest(base: base, writes: [object(oids.lowerBound, 5)], roots: [:], removingRoots: [], methods: [],
                                        author: "t", message: "posted")
        try shared.takeTurn()
        let index = try XCTUnwrap(shared.post([(LoggedCommit.encode(request, time: 1), base, nil)])?.first)
        return (first, second, shared, oids, base, index)
    }

    /// A holder that took a post and gave it an id, then died before its append was published: the
    /// next holder posts it again and appends it.
    func testAPostWhoseTakerDiedBeforeItsAppendIsAppendedByTheNext() throws {
        let (first, second, shared, oids, base, index) = try postACommitHoldingTheTurn("dead-taker.lo")
        XCTAssertEqual(shared.takePosts().map(\.index), [index])
        shared.notePostCommit(index, CommitID(base.rawValue + 1))  // and died
        shared.endTurn()

        let next = try second.commit(base: base, writes: [object(oids.lowerBound + 1, 1)], author: "t", message: "next")
        guard case let .appended(posted) = shared.postState(index) else { return XCTFail("\(shared.postState(index))") }
        shared.freePost(index)
        XCTAssertEqual(next.rawValue, base.rawValue + 1)
        XCTAssertEqual(posted.rawValue, base.rawValue + 2)
        XCTAssertEqual(try second.load(oid: oids.lowerBound, asOf: posted)?.slots, [smallInteger(5)])
        XCTAssertEqual(try first.check(), [])
    }

    /// A holder that died after publishing the head of its append, before marking the post DONE: the
    /// next holder marks it appended, and does not append it again.
    func testAPostWhoseTakerDiedAfterItsAppendIsNotAppendedTwice() throws {
        let (first, second, shared, oids, base, index) = try postACommitHoldingTheTurn("dead-after-append.lo")
        let taken = try XCTUnwrap(shared.takePosts().first)
        shared.notePostCommit(index, CommitID(base.rawValue + 1))
        try shared.view.withLock { view in
            try view.catchUp(salt: shared.salt, end: shared.end)
            try view.log.append([taken.payload]) { end in shared.store(\.log_appending_to, UInt64(end)) }
            shared.store(\.log_end, UInt64(view.log.end))
            shared.store(\.log_head, UInt64(view.log.head.rawValue))  // and died
        }
        shared.endTurn()

        let next = try second.commit(base: CommitID(base.rawValue + 1), writes: [object(oids.lowerBound + 1, 1)], author: "t", message: "next")
        guard case let .appended(posted) = shared.postState(index) else { return XCTFail("\(shared.postState(index))") }
        shared.freePost(index)
        XCTAssertEqual(posted.rawValue, base.rawValue + 1)
        XCTAssertEqual(next.rawValue, base.rawValue + 2, "the posted commit is in the log once")
        XCTAssertEqual(try second.load(oid: oids.lowerBound, asOf: next)?.slots, [smallInteger(5)])
        XCTAssertEqual(try second.commits(limit: 3).map(\.message), ["next", "posted", "make"])
        XCTAssertEqual(try second.check(), [])
        withExtendedLifetime(first) {}  // its view lacks the record it appended by hand: it reads nothing
    }

    /// Posts left by processes that died are reclaimed once no post is free (those nobody takes: a
    /// holder of the turn may take a POSTED one); a payload too long for a post, or more commits than
    /// there are posts free, are not posted.
    func testPostsOfTheDeadAreReclaimed() throws {
        let (first, _, shared) = try openPair("reclaimed.lo")
        withExtendedLifetime(first) {}
        let indexes = try XCTUnwrap(shared.post(Array(repeating: ([1, 2, 3], CommitID(0), nil), count: 16)))
        XCTAssertEqual(Set(indexes).count, 16)
        XCTAssertNil(shared.post([([4], CommitID(0), nil)]), "every post is in use")
        for index in indexes { shared.freePost(index) }
        XCTAssertNil(shared.post(Array(repeating: ([4], CommitID(0), nil), count: 17)), "all or none")
        XCTAssertNil(shared.post([([UInt8](repeating: 0, count: 4096), CommitID(0), nil)]))

        let again = try XCTUnwrap(shared.post(Array(repeating: ([1, 2, 3], CommitID(0), nil), count: 16)))
        XCTAssertEqual(shared.takePosts().count, 16)
        for index in again { shared.finishPost(index, appended: false) }
        let dead = Process()
        dead.executableURL = URL(fileURLWithPath: "/bin/true")
        try dead.run()
        dead.waitUntilExit()
        shared.setPostOwnerForTests(again[3], dead.processIdentifier)
        XCTAssertEqual(shared.post([([4], CommitID(0), nil)]), [again[3]])
        XCTAssertNil(shared.post([([5], CommitID(0), nil)]), "the others' owner lives")
        for index in again { shared.freePost(index) }
    }

    /// Two commits of one process's batch are posted together, and both appended by the holder.
    func testABatchIsPostedTogether() throws {
        let (first, second, shared) = try openPair("batch.lo")
        let oids = try first.allocateOIDs(count: 2)
        let base = try first.commit(base: try first.headCommit(), writes: [object(oids.lowerBound, 1)], author: "t", message: "make")
        let requests = try (0..<2).map { index in
            try CommitRequest(base: base, writes: [object(oids.lowerBound + UInt64(index), 10 + index)], roots: [:], removingRoots: [],
                              methods: [], author: "t", message: "batch \(index)")
        }
        try shared.takeTurn()
        let posted = try posting(shared) {
            let results = second.logSharedBatch(requests, try XCTUnwrap(second.sharedLog))
            return try results.map { try $0.get() }.max()!
        }
        XCTAssertEqual(try first.leadHoldingTurn([], shared).count, 0)
        XCTAssertEqual(try posted().get().rawValue, base.rawValue + 2)
        XCTAssertEqual(try second.load(oid: oids.lowerBound, asOf: try second.headCommit())?.slots, [smallInteger(10)])
        XCTAssertEqual(try second.load(oid: oids.lowerBound + 1, asOf: try second.headCommit())?.slots, [smallInteger(11)])
        XCTAssertEqual(try second.check(), [])
    }

    /// A log sync wakes the posters whose commits it made durable, not the others (whose commits wait
    /// for the next round): post 0's poster wakes at each sync that covers it, post 1's sleeps on.
    /// (A sleeper that was not asleep yet when the generation changed returns once without a wake: the
    /// bound on post 1's returns allows for that.)
    func testASyncWakesOnlyThePostersItMadeDurable() throws {
        let (first, _, shared) = try openPair("wakes.lo")
        let area = shared.page.area
        let covered = lo_post_at(area, 0), pending = lo_post_at(area, 1)
        for post in [covered, pending] { lo_post_set_state(post, UInt32(LO_POST_DONE)) }
        defer { for index in 0..<2 { shared.freePost(index) } }
        let head = Int(try first.headCommit().rawValue)
        lo_post_set_commit(pending, UInt64(head + 1000))
        let returns = Mutex([0, 0]), stop = Atomic<Bool>(false)
        let address = Int(bitPattern: area)  // Sendable for the threads: the page outlives them
        for index in 0..<2 {
            Thread {
                let page = UnsafeMutablePointer<lo_group_sync>(bitPattern: address)!
                while !stop.load(ordering: .acquiring) {
                    lo_log_wait_for_posts(page, lo_log_generation(page), 10_000_000_000, 1 << UInt32(index))
                    returns.withLock { $0[index] += 1 }
                }
            }.start()
        }
        usleep(100_000)
        for sync in 1...20 {
            lo_post_set_commit(covered, UInt64(head + sync))
            _ = lo_log_publish(shared.page.area, UInt64(head + sync))
            usleep(20_000)
        }
        let counted = returns.withLock { $0 }
        XCTAssertGreaterThanOrEqual(counted[0], 10, "post 0's poster woke at the syncs that covered it")
        XCTAssertLessThanOrEqual(counted[1], 3, "post 1's poster slept through syncs that did not cover it")
        stop.store(true, ordering: .releasing)
        _ = lo_log_wake_everyone(shared.page.area)
        XCTAssertTrue(waitUntil(within: 5) { returns.withLock { $0[1] } > counted[1] }, "waking everyone wakes it")
        _ = lo_log_wake_everyone(shared.page.area)
    }
}
