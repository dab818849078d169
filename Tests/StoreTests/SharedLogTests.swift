// The commit log shared by processes (`sharedLog: true`, the default): stores of one file see each
// other's commits and conflicts, and commits survive processes killed at any point.

import Foundation
import XCTest
@testable import Store

final class SharedLogTests: XCTestCase {
    private let directory = TemporaryDirectory()

    /// Two stores of one file in one process use the log as two processes would.
    func testStoresShareCommitsAndConflicts() throws {
        let path = directory.file("shared.lo")
        let first = try SQLiteStore.open(path: path, create: true, exclusive: false, sharedLog: true)
        let second = try SQLiteStore.open(path: path, exclusive: false, sharedLog: true)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path + "-log"))
        let oids = try first.allocateOIDs(count: 2)
        let base = try first.commit(base: try first.headCommit(), writes: [object(oids.lowerBound, 1), object(oids.lowerBound + 1, 1)],
                                    author: "t", message: "make")
        XCTAssertEqual(try second.headCommit(), base, "a durable commit is visible to the other store at once")
        XCTAssertEqual(try second.load(oid: oids.lowerBound, asOf: base)?.slots, [smallInteger(1)])

        let written = try first.commit(base: base, writes: [object(oids.lowerBound, 2)], author: "t", message: "first")
        XCTAssertThrowsError(try second.commit(base: base, writes: [object(oids.lowerBound, 3)], author: "t", message: "second")) { error in
            XCTAssertEqual((error as? CommitConflict)?.oids, [oids.lowerBound])
        }
        let other = try second.commit(base: base, writes: [object(oids.lowerBound + 1, 3)], author: "t", message: "other object")
        XCTAssertEqual(other.rawValue, written.rawValue + 1)
        XCTAssertEqual(try first.load(oid: oids.lowerBound + 1, asOf: try first.headCommit())?.slots, [smallInteger(3)])
        XCTAssertEqual(try second.check(), [])
    }

    /// Every process must open the store the same way: with the shared log, or without.
    func testModesDoNotMix() throws {
        let path = directory.file("modes.lo")
        let shared = try SQLiteStore.open(path: path, create: true, exclusive: false, sharedLog: true)
        XCTAssertThrowsError(try SQLiteStore.open(path: path, exclusive: false, sharedLog: false)) { error in
            guard case StoreError.inUse = error else { return XCTFail("\(error)") }
        }
        withExtendedLifetime(shared) {}
        let plain = directory.file("plain.lo")
        let store = try SQLiteStore.open(path: plain, create: true, exclusive: false, sharedLog: false)
        let started = Date()
        XCTAssertThrowsError(try SQLiteStore.open(path: plain, exclusive: false, sharedLog: true)) { error in
            guard case StoreError.inUse = error else { return XCTFail("\(error)") }
        }
        // A store of this process without the log is not one closing (which a shared open waits for).
        XCTAssertLessThan(Date().timeIntervalSince(started), 10, "refused without waiting long")
        withExtendedLifetime(store) {}
    }

    /// 40 rounds: a store that shares the log commits and is let go of around its background apply
    /// (which closes it when it ends, on the apply's queue, removing the log as the last member); then
    /// `reopen` opens the file straight away, and must see the round's last commit.
    private func letGoDuringTheApplyAndReopen(_ path: String, _ reopen: () throws -> SQLiteStore) throws {
        var oid: UInt64 = 0
        for round in 0..<40 {
            do {
                let store = try SQLiteStore.open(path: path, create: round == 0, exclusive: false, sharedLog: true)
                if round == 0 { oid = try store.allocateOIDs(count: 1).lowerBound }
                for value in 0..<10 {
                    _ = try store.commit(base: try store.headCommit(), writes: [object(oid, round * 10 + value)], author: "t", message: "c")
                }
                withExtendedLifetime(store) { usleep(UInt32(round % 6) * 500) }  // around the apply's 2 ms delay
            }
            let reopened = try reopen()
            XCTAssertEqual(try reopened.load(oid: oid, asOf: try reopened.headCommit())?.slots, [smallInteger(round * 10 + 9)], "round \(round)")
        }
    }

    /// A shared open from this process right after waits for such a close, and opens the file alone.
    func testASharedOpenRightAfterLettingGoWaitsForTheClose() throws {
        let path = directory.file("reopen.lo")
        try letGoDuringTheApplyAndReopen(path) { try SQLiteStore.open(path: path, exclusive: false, sharedLog: true) }
    }

    /// An exclusive open from this process right after waits for such a close.
    func testAnExclusiveOpenRightAfterLettingGoWaitsForTheClose() throws {
        let path = directory.file("close.lo")
        try letGoDuringTheApplyAndReopen(path) { try SQLiteStore.open(path: path, exclusive: true) }
        let store = try SQLiteStore.open(path: path, exclusive: false, sharedLog: true)
        let started = Date()
        XCTAssertThrowsError(try SQLiteStore.open(path: path, exclusive: true), "a store still open is not waited for forever") { error in
            guard case StoreError.inUse = error else { return XCTFail("\(error)") }
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
        withExtendedLifetime(store) {}
    }

    /// The log is reset once long, while commits go on, and removed by the last store to close.
    func testResetAndRemoval() throws {
        let path = directory.file("reset.lo")
        let first = try SQLiteStore.open(path: path, create: true, exclusive: false, sharedLog: true)
        let second = try SQLiteStore.open(path: path, exclusive: false, sharedLog: true)
        let oids = try first.allocateOIDs(count: 2)
        let big = [UInt8](repeating: 7, count: 60_000)
        var heads = [try first.headCommit(), try first.headCommit()]
        for round in 0..<200 {
            for (index, store) in [first, second].enumerated() {
                heads[index] = try store.commit(base: heads[index], writes: [
                    StoredObject(oid: oids.lowerBound + UInt64(index), classOID: oids.lowerBound, format: 16, bytes: big + [UInt8(round)])],
                    author: "t", message: "big")
            }
            // A read of the newest commit applies what is durable (and resets the log if long), as
            // the background apply does: on a loaded machine that may lag by more than the log's size.
            if round % 20 == 19 {
                XCTAssertEqual(try second.load(oid: oids.lowerBound, asOf: heads[0])?.bytes?.last, UInt8(round))
            }
        }
        let log = try FileManager.default.attributesOfItem(atPath: path + "-log")[.size] as! Int
        XCTAssertLessThan(log, 3 * ExclusiveLog.resetLength, "the log was reset")
        XCTAssertEqual(try second.load(oid: oids.lowerBound, asOf: try second.headCommit())?.bytes?.last, 199)
        XCTAssertEqual(try first.check(), [])
        _ = consume first
        XCTAssertTrue(FileManager.default.fileExists(atPath: path + "-log"), "another store has it open")
        _ = consume second
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + "-log"), "removed by the last store to close")
    }

    /// Two stores of a new file sharing the log, and an object (the first of `oidCount` allocated) made
    /// by the first at `base`.
    private func twoStoresAndAnObject(_ name: String, oidCount: Int = 1) throws
        -> (path: String, first: SQLiteStore, second: SQLiteStore, oids: Range<UInt64>, base: CommitID) {
        let path = directory.file(name)
        let first = try SQLiteStore.open(path: path, create: true, exclusive: false, sharedLog: true)
        let second = try SQLiteStore.open(path: path, exclusive: false, sharedLog: true)
        let oids = try first.allocateOIDs(count: oidCount)
        let base = try first.commit(base: try first.headCommit(), writes: [object(oids.lowerBound, 0)], author: "t", message: "make")
        return (path, first, second, oids, base)
    }

    /// A logged commit that writes `value` into object `oid`.
    private func payload(base: CommitID, oid: UInt64, value: Int, message: String, time: Double = 1) throws -> [UInt8] {
        LoggedCommit.encode(try CommitRequest(base: base, writes: [object(oid, value)], roots: [:], removingRoots: [], methods: [],
                                              author: "t", message: message), time: time)
    }

    /// How far a leader got in publishing its append.
    private enum Published { case nothing, end, endAndHead }

    /// In the writers' turn, as a leader would: appends these records after the log's, and publishes
    /// as far as `publishing` says (a leader that died before the rest).
    private func appendAsAHolder(_ payloads: [[UInt8]], _ shared: SharedLog, publishing: Published) throws {
        try shared.takeTurn()
        defer { shared.endTurn() }
        try shared.view.withLock { view in
            try view.catchUp(salt: shared.salt, end: shared.end)
            try view.log.append(payloads) { end in shared.store(\.log_appending_to, UInt64(end)) }
            switch publishing {
            case .nothing: try view.log.reload()  // this process knows the log only as far as the page says
            case .end: shared.store(\.log_end, UInt64(view.log.end))
            case .endAndHead:
                shared.store(\.log_end, UInt64(view.log.end))
                shared.store(\.log_head, UInt64(view.log.head.rawValue))
            }
        }
    }

    /// A leader that died after writing its records, before publishing them: they were never
    /// acknowledged, and the next leader zeroes them (a record of the same length and commit id would
    /// otherwise leave the dead one's next record valid after it).
    func testAnAppendLeftHalfDoneIsZeroed() throws {
        let (path, first, second, oids, base) = try twoStoresAndAnObject("dead-append.lo")
        let oid = oids.lowerBound
        let shared = try XCTUnwrap(first.sharedLog)
        // As a leader killed between its pwrite and its publishing: two records past the end, of the
        // same length as the next commit's record: without the zeroing, the dead second record would
        // follow it as a valid commit.
        let dead = try payload(base: base, oid: oid, value: 6, message: "after", time: Date().timeIntervalSince1970)
        try appendAsAHolder([dead, dead], shared, publishing: .nothing)
        XCTAssertGreaterThan(shared.appendingTo, UInt64(shared.end))
        let next = try second.commit(base: base, writes: [object(oid, 1)], author: "t", message: "after")
        XCTAssertEqual(next.rawValue, base.rawValue + 1)
        XCTAssertEqual(shared.appendingTo, UInt64(shared.end), "zeroed")
        let (log, records) = try CommitLog.open(path: path + "-log", creatingAfter: CommitID(0))
        XCTAssertEqual(records.last?.commit, next, "what a crash now would replay")
        withExtendedLifetime(log) {}
        let again = try first.commit(base: next, writes: [object(oid, 2)], author: "t", message: "again")
        _ = consume first
        _ = consume second
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + "-log"), "removed by the last store to close")
        let reopened = try SQLiteStore.open(path: path, exclusive: false, sharedLog: true)
        XCTAssertEqual(try reopened.headCommit(), again)
        XCTAssertEqual(try reopened.load(oid: oid, asOf: next)?.slots, [smallInteger(1)])
        XCTAssertEqual(try reopened.check(), [])
    }

    /// A record this build cannot read (another build's format) in front of one it can: every commit
    /// that would be checked against them fails with a clear error, the second attempt too. (The first
    /// look used to pass over the readable record after failing, and the retry then committed on a
    /// stale base without seeing its write.)
    func testARecordThatCannotBeReadFailsEveryLookNotJustTheFirst() throws {
        let (path, first, second, oids, base) = try twoStoresAndAnObject("unreadable.lo")
        let oid = oids.lowerBound
        XCTAssertEqual(try second.load(oid: oid, asOf: base)?.slots, [smallInteger(0)], "second has read the log so far")
        let readable = try payload(base: base, oid: oid, value: 7, message: "readable")
        var unreadable = readable
        unreadable[0] = 99  // a format this build does not know
        try appendAsAHolder([unreadable, readable], try XCTUnwrap(first.sharedLog), publishing: .endAndHead)
        for attempt in 1...2 {
            XCTAssertThrowsError(try second.commit(base: base, writes: [object(oid, 8)], author: "t", message: "stale"), "attempt \(attempt)") { error in
                guard case let StoreError.corrupt(errorPath, detail) = error else { return XCTFail("attempt \(attempt): \(error)") }
                XCTAssertEqual(errorPath, path + "-log")
                XCTAssertTrue(detail.contains("commit \(base.rawValue + 1) in the commit log cannot be decoded"), detail)
            }
        }
        XCTAssertEqual(try second.load(oid: oid, asOf: try second.headCommit())?.slots, [smallInteger(0)], "nothing stale was committed")
    }

    /// A leader that died after publishing its records' end, before the head: they are whole and
    /// checked, and the next leader takes them as committed.
    func testAnAppendWhoseHeadWasNotPublishedIsTaken() throws {
        let (_, first, second, oids, base) = try twoStoresAndAnObject("dead-head.lo", oidCount: 2)
        let dead = try payload(base: base, oid: oids.lowerBound, value: 7, message: "dead")
        try appendAsAHolder([dead], try XCTUnwrap(first.sharedLog), publishing: .end)  // and killed before the head
        let next = try second.commit(base: CommitID(base.rawValue + 1), writes: [object(oids.lowerBound + 1, 1)], author: "t", message: "next")
        XCTAssertEqual(next.rawValue, base.rawValue + 2)
        XCTAssertEqual(try second.load(oid: oids.lowerBound, asOf: next)?.slots, [smallInteger(7)])
        XCTAssertThrowsError(try second.commit(base: base, writes: [object(oids.lowerBound, 8)], author: "t", message: "stale")) { error in
            XCTAssertEqual((error as? CommitConflict)?.oids, [oids.lowerBound])
        }
        XCTAssertEqual(try second.check(), [])
        withExtendedLifetime(first) {}
    }

    /// A reset whose writer died after writing the new header, before the page said so: the next
    /// holder of the writers' turn finishes it, and commits go on in the new generation.
    func testAResetLeftHalfDoneIsFinished() throws {
        let (path, first, second, oids, made) = try twoStoresAndAnObject("dead-reset.lo")
        let oid = oids.lowerBound
        var head = made
        try first.drainLog()
        let shared = try XCTUnwrap(first.sharedLog)
        let oldSalt = shared.salt
        _ = try shared.takeApplyLock(wait: true)
        try shared.takeTurn()
        try shared.view.withLock { view in
            try view.catchUp(salt: shared.salt, end: shared.end)
            shared.store(\.log_appending_to, SharedLog.resetting)
            try view.log.reset(base: shared.head)  // and killed here
        }
        shared.endTurn()
        shared.endApply()
        XCTAssertEqual(shared.salt, oldSalt)
        for value in 1...3 {
            head = try second.commit(base: head, writes: [object(oid, value)], author: "t", message: "after")
        }
        XCTAssertNotEqual(shared.salt, oldSalt, "the reset was finished")
        XCTAssertEqual(try first.load(oid: oid, asOf: head)?.slots, [smallInteger(3)])
        // The records are in the new generation: a crash now (no close) loses none.
        let (log, records) = try CommitLog.open(path: path + "-log", creatingAfter: CommitID(0))
        XCTAssertEqual(records.map(\.commit), [CommitID(head.rawValue - 2), CommitID(head.rawValue - 1), head])
        withExtendedLifetime(log) {}
        withExtendedLifetime(first) {}
    }

    /// A rollback whose process died after its commit reached SQLite, before the page's marks said so:
    /// the next holder of the turn starts the log after that commit, so the next commit gets the id
    /// after it (given the rollback's own id, it was skipped by the apply, which found SQLite had it).
    func testARollbackWhoseWriterDiedBeforeTheMarksIsNotOverwritten() throws {
        let (_, first, second, oids, made) = try twoStoresAndAnObject("dead-rollback.lo")
        let oid = oids.lowerBound
        let changed = try second.commit(base: made, writes: [object(oid, 1)], author: "t", message: "changed")
        let shared = try XCTUnwrap(first.sharedLog)
        var rollback: CommitID?
        try first.withSharedLogDrained(shared) {
            // As `sharedCommitOutsideTheLog` until the process is killed, after the commit.
            shared.view.withLock { _ in shared.store(\.log_appending_to, SharedLog.resetting) }
            rollback = try first.rollbackInSQLite(to: made, author: "t")
        }
        XCTAssertEqual(rollback, CommitID(changed.rawValue + 1))
        XCTAssertEqual(shared.head, changed, "the page does not know the rollback")
        let next = try second.commit(base: try XCTUnwrap(rollback), writes: [object(oid, 2)], author: "t", message: "next")
        XCTAssertEqual(next.rawValue, changed.rawValue + 2)
        XCTAssertEqual(try first.commits(limit: 3).map(\.message), ["next", "Rollback to #\(made.rawValue)", "changed"])
        XCTAssertEqual(try first.load(oid: oid, asOf: next)?.slots, [smallInteger(2)])
        XCTAssertEqual(try first.check(), [])
    }

    /// A child process writes an object after the parent's snapshot: the parent's commit of it conflicts.
    func testConflictWithAnotherProcess() throws {
        let executable = try storeTortureExecutable()
        let path = directory.file("conflict.lo")
        let store = try SQLiteStore.open(path: path, create: true, exclusive: false, sharedLog: true)
        let oid = try store.allocateOIDs(count: 1).lowerBound
        let base = try store.commit(base: try store.headCommit(), writes: [object(oid, 0)], roots: ["shared": oid],
                                    author: "parent", message: "counter")
        let child = try startChild(executable, ["shared-counter", path])
        let acks = try waitForAcknowledgements(child, atLeast: 3)
        XCTAssertEqual(acks.first?.value, 1, "the child counted on from the parent's commit")
        XCTAssertThrowsError(try store.commit(base: base, writes: [object(oid, 100)], author: "parent", message: "stale")) { error in
            XCTAssertEqual((error as? CommitConflict)?.oids, [oid])
        }
        // Once the child has stopped (it commits on and on), a commit based on the new head succeeds.
        kill(child.process.processIdentifier, SIGKILL)
        child.process.waitUntilExit()
        let head = try store.headCommit()
        XCTAssertNotNil(try store.load(oid: oid, asOf: head)?.slots?.first)
        XCTAssertNoThrow(try store.commit(base: head, writes: [object(oid, 1000)], author: "parent", message: "fresh"))
    }

    /// Several processes commit at once, some to one counter (retrying on conflict), one a chain of
    /// objects of its own, and are killed at random moments while this process has the store open
    /// too: every acknowledged commit is there, no increment is lost, and the store checks clean.
    func testProcessesKilledWhileSharingTheLog() throws {
        let executable = try storeTortureExecutable()
        let path = directory.file("shared-torture.lo")
        let rounds = Int(ProcessInfo.processInfo.environment["STORE_TORTURE_KILLS"] ?? "").map { max(1, $0 / 4) } ?? 25
        var counted = 0, chained = 0, maximumChain = 0
        for round in 0..<rounds {
            let parent = try SQLiteStore.open(path: path, create: true, exclusive: false, sharedLog: true)
            let children = try (0..<3).map { _ in try startChild(executable, ["shared-counter", path]) }
                + [try startChild(executable, [path])]
            // Each child is killed at its own moment: some while others commit, in any step of theirs.
            for child in children.shuffled() {
                Thread.sleep(forTimeInterval: Double.random(in: 0.01...0.12))
                kill(child.process.processIdentifier, SIGKILL)
            }
            var counterAcks: [(commit: CommitID, value: Int)] = [], chainAcks: [(commit: CommitID, value: Int)] = []
            for (index, child) in children.enumerated() {
                let acks = try finish(child)
                if index < 3 { counterAcks += acks } else { chainAcks += acks }
            }
            // The parent, still open, finds every acknowledged commit (applying what the dead left).
            try verify(parent, counterAcks: counterAcks, chainAcks: chainAcks, round: round)
            let oid = try parent.allocateOIDs(count: 1).lowerBound
            XCTAssertNoThrow(try parent.commit(base: try parent.headCommit(), writes: [object(oid, round)], author: "parent", message: "after"),
                             "round \(round): a commit after the kills")
            _ = consume parent
            // Reopened alone: replays what the log holds.
            let reopened = try SQLiteStore.open(path: path, exclusive: false, sharedLog: true)
            try verify(reopened, counterAcks: counterAcks, chainAcks: chainAcks, round: round)
            XCTAssertEqual(try reopened.check(), [], "round \(round)")
            counted += counterAcks.count
            chained += chainAcks.count
            if let last = chainAcks.last {
                XCTAssertGreaterThan(last.value, maximumChain, "round \(round): counting went on from the last durable commit")
                maximumChain = last.value
            }
        }
        XCTAssertGreaterThan(counted, rounds, "the children should commit several times per round")
        print("shared-log crash test: \(rounds) rounds of 4 processes killed, \(counted) shared increments and \(chained) chain commits acknowledged, all present, none lost")
    }

    private func verify(_ store: SQLiteStore, counterAcks: [(commit: CommitID, value: Int)], chainAcks: [(commit: CommitID, value: Int)],
                        round: Int) throws {
        let head = try store.headCommit()
        if let counter = try store.root(named: "shared", asOf: head) {
            for ack in counterAcks {
                XCTAssertEqual(try store.load(oid: counter, asOf: ack.commit)?.slots?.first, smallInteger(ack.value),
                               "round \(round): commit \(ack.commit) lost")
            }
            // Each increment wrote the value it read plus one: with none lost, the value counts the versions.
            let versions = try store.withReader { try $0.integer("SELECT count(*) FROM objects WHERE oid = ?", Int64(counter)) } ?? 0
            let value = try XCTUnwrap(try store.load(oid: counter, asOf: head)?.slots?.first)
            XCTAssertEqual(value, smallInteger(Int(versions) - 1), "round \(round): an increment was lost")
        } else {
            XCTAssertTrue(counterAcks.isEmpty, "round \(round): increments acknowledged, but no counter")
        }
        XCTAssertEqual(Set(counterAcks.map(\.value)).count, counterAcks.count, "round \(round): two increments acknowledged the same value")
        guard let chain = try store.root(named: "counter", asOf: head) else {
            return XCTAssertTrue(chainAcks.isEmpty, "round \(round): chain commits acknowledged, but no chain")
        }
        for ack in chainAcks {
            XCTAssertEqual(try store.load(oid: chain, asOf: ack.commit)?.slots?.first, smallInteger(ack.value),
                           "round \(round): chain commit \(ack.commit) lost")
        }
        if let last = chainAcks.last { XCTAssertGreaterThanOrEqual(head, last.commit) }
    }

    private struct Child {
        let process: Process
        let output: Pipe, errors: Pipe
    }

    private func startChild(_ executable: URL, _ arguments: [String]) throws -> Child {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(["LO_SHARED_LOG": "1"]) { $1 }.filter { $0.key != "LO_EXCLUSIVE" }
        let child = Child(process: process, output: Pipe(), errors: Pipe())
        process.standardOutput = child.output
        process.standardError = child.errors
        try process.run()
        return child
    }

    /// The lines a killed child printed: each after a commit returned (one write(2), shorter than PIPE_BUF).
    private func finish(_ child: Child) throws -> [(commit: CommitID, value: Int)] {
        let printed = String(decoding: child.output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let complaint = String(decoding: child.errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        child.process.waitUntilExit()
        XCTAssertEqual(child.process.terminationReason, .uncaughtSignal, "the child stopped by itself: \(complaint)")
        return printed.split(separator: "\n").map { line in
            let fields = line.split(separator: " ")
            return (CommitID(Int64(fields[0])!), Int(fields[1])!)
        }
    }

    private func waitForAcknowledgements(_ child: Child, atLeast count: Int) throws -> [(commit: CommitID, value: Int)] {
        var printed = ""
        let deadline = Date() + 20
        while printed.split(separator: "\n").count < count && Date() < deadline {
            printed += String(decoding: child.output.fileHandleForReading.availableData, as: UTF8.self)
        }
        kill(child.process.processIdentifier, SIGKILL)
        printed += String(decoding: child.output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        child.process.waitUntilExit()
        return printed.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count == 2, let commit = Int64(fields[0]), let value = Int(fields[1]) else { return nil }
            return (CommitID(commit), value)
        }
    }
}
