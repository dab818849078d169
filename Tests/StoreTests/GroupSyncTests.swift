// Group commit of the WAL sync across processes (GroupSync.swift): writers of different stores (each
// with its own connections and its own mapping of the shared page, as separate processes have) share
// syncs; a sync covers only commits that returned before it began; a holder of the mutex that dies or
// stops blocks nobody; a bad `-sync` file is rebuilt or left alone.

import Foundation
import Synchronization
import CGroupSync
import XCTest
@testable import Store

final class GroupSyncTests: XCTestCase {
    private let directory = TemporaryDirectory()

    private func syncs(_ store: SQLiteStore) -> Int { store.walSync.completed.load(ordering: .relaxed) }
    private func group(_ store: SQLiteStore) -> GroupSync { store.walSync.group! }
    private func covered(_ store: SQLiteStore) -> Int { group(store).covered.load(ordering: .relaxed) }

    private func waitUntil(_ what: String, _ condition: () -> Bool) {
        XCTAssertTrue(StoreTests.waitUntil(within: 20, condition), "timed out waiting until \(what)")
    }

    /// Three stores on one file. The first holds the mutex before reading `written`; the other two commit
    /// and wait; the first one's sync then covers all three: one sync for three commits.
    func testOneSyncCoversTheCommitsThatReturnedBeforeItBegan() throws {
        let path = directory.file("covered.lo")
        let stores = try [SQLiteStore.open(path: path, create: true, sharedLog: false), SQLiteStore.open(path: path, sharedLog: false), SQLiteStore.open(path: path, sharedLog: false)]
        let oids = try stores[0].allocateOIDs(count: 3)
        for store in stores.dropFirst() { _ = try store.allocateOIDs(count: 1) }  // each opens the shared page
        for store in stores { group(store).stuckAfter.store(60_000_000_000, ordering: .relaxed) }
        let before = stores.map(syncs)

        let holding = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        group(stores[0]).whileLocked.withLock { $0 = { stage in if stage == .locked { holding.signal(); release.wait() } } }
        var commits = [BackgroundCommit(stores[0], oids.lowerBound, 1)]
        XCTAssertEqual(holding.wait(timeout: .now() + 20), .success)
        group(stores[0]).whileLocked.withLock { $0 = nil }
        commits += [BackgroundCommit(stores[1], oids.lowerBound + 1, 2), BackgroundCommit(stores[2], oids.lowerBound + 2, 3)]
        waitUntil("both wait for the first one's sync") { stores.map { group($0).sleepers }.reduce(0, +) == 2 }
        XCTAssertFalse(commits.contains { $0.returned }, "a commit returned before the sync that covers it")
        release.signal()
        waitUntil("all three returned") { commits.allSatisfy(\.returned) }

        XCTAssertEqual(zip(stores.map(syncs), before).map { $0 - $1 }, [1, 0, 0], "one sync, by the first store")
        XCTAssertEqual(stores.map(covered), [0, 1, 1])
        let counters = group(stores[2]).counters
        XCTAssertEqual(counters.durable, counters.written, "every ticket durable")
        let head = try stores[1].headCommit()
        for index in 0..<3 {
            XCTAssertEqual(try stores[1].load(oid: oids.lowerBound + UInt64(index), asOf: head)?.slots, [smallInteger(index + 1)])
        }
    }

    /// A sync that read `written` before another store's COMMIT returned does not cover that commit:
    /// the second store syncs for itself once the first lets go.
    func testASyncThatBeganEarlierDoesNotCoverALaterCommit() throws {
        let path = directory.file("later.lo")
        let first = try SQLiteStore.open(path: path, create: true, sharedLog: false), second = try SQLiteStore.open(path: path, sharedLog: false)
        let oids = try first.allocateOIDs(count: 2)
        _ = try second.allocateOIDs(count: 1)
        for store in [first, second] { group(store).stuckAfter.store(60_000_000_000, ordering: .relaxed) }
        let before = (syncs(first), syncs(second))

        let syncing = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        group(first).whileLocked.withLock { $0 = { stage in if stage == .readWritten { syncing.signal(); release.wait() } } }
        let early = BackgroundCommit(first, oids.lowerBound, 1)
        XCTAssertEqual(syncing.wait(timeout: .now() + 20), .success)
        group(first).whileLocked.withLock { $0 = nil }
        let later = BackgroundCommit(second, oids.lowerBound + 1, 2)
        waitUntil("the second waits") { group(second).sleepers == 1 }
        XCTAssertFalse(later.returned)
        release.signal()
        waitUntil("both returned") { early.returned && later.returned }

        XCTAssertEqual(syncs(first) - before.0, 1)
        XCTAssertEqual(syncs(second) - before.1, 1, "the second commit came after the first sync began: it needs its own")
        XCTAssertEqual(covered(second), 0)
        let counters = group(first).counters
        XCTAssertEqual(counters.durable, counters.written)
    }

    /// Eight stores commit at once, one thread each: every commit returns, every ticket ends durable,
    /// `durable` never passes `written`, and each sync call either synced or was covered.
    func testManyStoresCommittingAtOnce() throws {
        let path = directory.file("many.lo")
        let stores = try [SQLiteStore.open(path: path, create: true, sharedLog: false)] + (1..<8).map { _ in try SQLiteStore.open(path: path, sharedLog: false) }
        let oids = try stores[0].allocateOIDs(count: 8)
        for store in stores.dropFirst() { _ = try store.allocateOIDs(count: 1) }
        // On a loaded machine one sync can outlast the default `stuckAfter`; this test is about
        // coverage, and the stuck holder has tests of its own.
        for store in stores { group(store).stuckAfter.store(60_000_000_000, ordering: .relaxed) }
        let before = stores.map { (syncs($0), covered($0), $0.groupCommitStatistics.batches) }
        let watching = Atomic<Bool>(true), violations = Atomic<Int>(0), samples = Atomic<Int>(0)
        let watcher = group(stores[0])
        Thread {
            while watching.load(ordering: .relaxed) {
                let counters = watcher.counters
                if counters.durable > counters.written { violations.add(1, ordering: .relaxed) }
                samples.add(1, ordering: .relaxed)
            }
        }.start()
        runThreads(8) { session in
            var base = try stores[session].headCommit()
            for value in 1...40 {
                base = try stores[session].commit(base: base, writes: [object(oids.lowerBound + UInt64(session), value)],
                                                    author: "t", message: "many")
            }
        }
        watching.store(false, ordering: .relaxed)
        XCTAssertEqual(violations.load(ordering: .relaxed), 0, "durable passed written")
        XCTAssertGreaterThan(samples.load(ordering: .relaxed), 0)
        let counters = watcher.counters
        XCTAssertEqual(counters.durable, counters.written)
        var synced = 0, coveredCommits = 0, transactions = 0
        for (store, (syncs0, covered0, batches0)) in zip(stores, before) {
            synced += syncs(store) - syncs0
            coveredCommits += covered(store) - covered0
            transactions += store.groupCommitStatistics.batches - batches0
            XCTAssertEqual(group(store).syncedAlone.load(ordering: .relaxed), 0)
        }
        XCTAssertEqual(transactions, 320, "one store, one thread: each commit its own transaction")
        XCTAssertEqual(synced + coveredCommits, transactions, "each sync call synced or was covered")
        print("8 stores, 320 commits: \(synced) syncs, \(coveredCommits) covered by another store's sync")
        let head = try stores[7].headCommit()
        for session in 0..<8 {
            XCTAssertEqual(try stores[7].load(oid: oids.lowerBound + UInt64(session), asOf: head)?.slots, [smallInteger(40)])
        }
    }

    // MARK: A holder that dies or stops

    private func holdTheMutex(of path: String) throws -> Process {
        let child = Process()
        child.executableURL = try storeTortureExecutable()
        child.arguments = ["hold-sync-lock", path]
        let output = Pipe()
        child.standardOutput = output
        try child.run()
        let line = output.fileHandleForReading.availableData
        XCTAssertEqual(String(decoding: line, as: UTF8.self), "holding\n")
        return child
    }

    func testAHolderKilledInsideItsSyncBlocksNobody() throws {
        let path = directory.file("killed.lo")
        let store = try SQLiteStore.open(path: path, create: true, sharedLog: false)
        let oid = try store.allocateOIDs(count: 1).lowerBound
        group(store).stuckAfter.store(60_000_000_000, ordering: .relaxed)  // no way around it but taking it over
        let child = try holdTheMutex(of: path)
        XCTAssertTrue(group(store).isLockedElsewhere)
        kill(child.processIdentifier, SIGKILL)
        child.waitUntilExit()

        let before = syncs(store)
        var head = try store.commit(base: try store.headCommit(), writes: [object(oid, 1)], author: "t", message: "after")
        XCTAssertEqual(group(store).recoveredLocks.load(ordering: .relaxed), 1, "taken over from the dead holder")
        XCTAssertEqual(group(store).syncedAlone.load(ordering: .relaxed), 0)
        head = try store.commit(base: head, writes: [object(oid, 2)], author: "t", message: "again")
        XCTAssertEqual(group(store).recoveredLocks.load(ordering: .relaxed), 1)
        XCTAssertEqual(syncs(store) - before, 2)
        XCTAssertFalse(group(store).isLockedElsewhere)
        XCTAssertEqual(try store.load(oid: oid, asOf: head)?.slots, [smallInteger(2)])
    }

    func testAStoppedHolderIsWaitedForOnlySoLong() throws {
        let path = directory.file("stopped.lo")
        let store = try SQLiteStore.open(path: path, create: true, sharedLog: false)
        let oid = try store.allocateOIDs(count: 1).lowerBound
        group(store).stuckAfter.store(200_000_000, ordering: .relaxed)
        let started = Date()  // before the child takes the mutex: the wait is timed from then
        let child = try holdTheMutex(of: path)
        defer {
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
        }
        let head = try store.commit(base: try store.headCommit(), writes: [object(oid, 1)], author: "t", message: "alone")
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 0.2)
        XCTAssertEqual(group(store).syncedAlone.load(ordering: .relaxed), 1, "synced without the mutex")
        XCTAssertEqual(try store.load(oid: oid, asOf: head)?.slots, [smallInteger(1)])
        let counters = group(store).counters
        XCTAssertEqual(counters.durable, counters.written)
    }

    /// A writer killed while asleep until a sync ends leaves the page marked as slept on: the next sync
    /// makes one needless wake call, and clears the mark; later syncs make none. (A count of sleepers
    /// stayed one too high for good: every later sync made a wake call, until the file was rebuilt.)
    func testAWriterKilledAsleepCostsOneWakeCall() throws {
        let path = directory.file("sleeper.lo")
        let store = try SQLiteStore.open(path: path, create: true, sharedLog: false)
        let oid = try store.allocateOIDs(count: 1).lowerBound
        let holding = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        group(store).whileLocked.withLock { $0 = { stage in if stage == .locked { holding.signal(); release.wait() } } }
        let commit = BackgroundCommit(store, oid, 1)
        XCTAssertEqual(holding.wait(timeout: .now() + 20), .success)
        group(store).whileLocked.withLock { $0 = nil }

        let child = Process()  // commits to the same file: its first write waits for our sync
        child.executableURL = try storeTortureExecutable()
        child.arguments = [path, "sleeper"]
        child.environment = childEnvironment(sharedLog: false)
        child.standardOutput = FileHandle.nullDevice
        try child.run()
        let area = group(store).area
        waitUntil("the child sleeps until our sync ends") {
            area.pointee.locked_at = lo_group_sync_now()  // keep our hold fresh: the child must not pass it
            return group(store).maySleepersBeWaiting
        }
        kill(child.processIdentifier, SIGKILL)
        child.waitUntilExit()
        let wakes = group(store).wakeCalls.load(ordering: .relaxed)
        release.signal()
        waitUntil("our commit returned") { commit.returned }
        XCTAssertEqual(group(store).wakeCalls.load(ordering: .relaxed) - wakes, 1, "one wake call for the dead sleeper")
        XCTAssertFalse(group(store).maySleepersBeWaiting)

        var head = try store.headCommit()
        for value in 2...4 { head = try store.commit(base: head, writes: [object(oid, value)], author: "t", message: "later") }
        XCTAssertEqual(group(store).wakeCalls.load(ordering: .relaxed) - wakes, 1, "no wake calls for nobody")
        XCTAssertEqual(try store.load(oid: oid, asOf: head)?.slots, [smallInteger(4)])
    }

    /// The same without a process: the mark alone, as a dead sleeper leaves it.
    func testAMarkWithoutSleepersIsClearedByTheNextSync() throws {
        let path = directory.file("mark.lo")
        let store = try SQLiteStore.open(path: path, create: true, sharedLog: false)
        let oid = try store.allocateOIDs(count: 1).lowerBound
        group(store).markSleepers()
        let wakes = group(store).wakeCalls.load(ordering: .relaxed)
        var head = try store.headCommit()
        for value in 1...3 { head = try store.commit(base: head, writes: [object(oid, value)], author: "t", message: "mark") }
        XCTAssertEqual(group(store).wakeCalls.load(ordering: .relaxed) - wakes, 1)
        XCTAssertFalse(group(store).maySleepersBeWaiting)
    }

    // MARK: The file

    private func syncFileIsValid(_ path: String) -> Bool {
        guard let data = FileManager.default.contents(atPath: path + "-sync"), data.count == GroupSync.fileSize else { return false }
        return data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } == 0x636e797372674f4c  // "LOgrsync"
    }

    func testABadSyncFileIsRebuilt() throws {
        let path = directory.file("bad.lo")
        var generator = SystemRandomNumberGenerator()
        let contents = [Data((0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) }), Data("short".utf8),
                        Data(repeating: 0x41, count: 10_000), Data()]
        for (index, bad) in contents.enumerated() {
            XCTAssertTrue(FileManager.default.createFile(atPath: path + "-sync", contents: bad))
            let store = try SQLiteStore.open(path: path, create: true, sharedLog: false)
            let before = syncs(store)
            let oid = try store.allocateOIDs(count: 1).lowerBound
            XCTAssertNotNil(store.walSync.group, "case \(index)")
            XCTAssertTrue(syncFileIsValid(path), "case \(index): rebuilt")
            let head = try store.commit(base: try store.headCommit(), writes: [object(oid, index)], author: "t", message: "bad")
            XCTAssertEqual(syncs(store) - before, 2)
            XCTAssertEqual(try store.load(oid: oid, asOf: head)?.slots, [smallInteger(index)])
        }
    }

    /// A file another process has open (it holds the shared lock) but that is not a valid page — another
    /// build's layout — is not touched: the store syncs on its own.
    func testAnInvalidFileInUseIsLeftAlone() throws {
        let path = directory.file("inuse.lo")
        let foreign = Data(repeating: 0x5a, count: GroupSync.fileSize)
        XCTAssertTrue(FileManager.default.createFile(atPath: path + "-sync", contents: foreign))
        let other = open(path + "-sync", O_RDONLY)
        defer { close(other) }
        XCTAssertEqual(flock(other, LOCK_SH), 0)
        let store = try SQLiteStore.open(path: path, create: true, sharedLog: false)
        let before = syncs(store)
        let oid = try store.allocateOIDs(count: 1).lowerBound
        let head = try store.commit(base: try store.headCommit(), writes: [object(oid, 7)], author: "t", message: "alone")
        XCTAssertNil(store.walSync.group)
        XCTAssertEqual(syncs(store) - before, 2, "still synced, each write on its own")
        XCTAssertEqual(FileManager.default.contents(atPath: path + "-sync"), foreign)
        XCTAssertEqual(try store.load(oid: oid, asOf: head)?.slots, [smallInteger(7)])
    }

    /// Something at the path that cannot be opened as a file: no group, writes still synced.
    func testAnUnusableSyncPathOnlyMeansSyncingAlone() throws {
        let path = directory.file("dir.lo")
        try FileManager.default.createDirectory(atPath: path + "-sync", withIntermediateDirectories: false)
        let store = try SQLiteStore.open(path: path, create: true, sharedLog: false)
        let before = syncs(store)
        _ = try store.allocateOIDs(count: 1)
        XCTAssertNil(store.walSync.group)
        XCTAssertEqual(syncs(store) - before, 1)
    }

    /// Made by the first write, removed by the last store to close; a store that only reads makes none.
    func testTheFileLivesAsLongAsItsWriters() throws {
        let path = directory.file("life.lo")
        _ = try SQLiteStore.open(path: path, create: true, sharedLog: false).allocateOIDs(count: 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + "-sync"), "removed with the only store")
        var first: SQLiteStore? = try SQLiteStore.open(path: path, sharedLog: false)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + "-sync"), "opening alone writes nothing")
        _ = try first!.allocateOIDs(count: 1)
        XCTAssertTrue(syncFileIsValid(path))
        var second: SQLiteStore? = try SQLiteStore.open(path: path, sharedLog: false)
        _ = try second!.allocateOIDs(count: 1)
        XCTAssertTrue(first!.walSync.group!.counters.written >= 2, "both use the same page")
        first = nil
        XCTAssertTrue(FileManager.default.fileExists(atPath: path + "-sync"), "still in use")
        second = nil
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + "-sync"))

        let reader = try SQLiteStore.open(path: path, sharedLog: false)
        _ = try reader.load(oids: [], asOf: try reader.headCommit())
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + "-sync"), "reading makes none")
    }

    /// Removed while in use (by hand): the stores opened later use a new file; everyone still syncs.
    func testAFileRemovedWhileInUse() throws {
        let path = directory.file("removed.lo")
        let first = try SQLiteStore.open(path: path, create: true, sharedLog: false)
        let oids = try first.allocateOIDs(count: 2)
        try FileManager.default.removeItem(atPath: path + "-sync")
        let second = try SQLiteStore.open(path: path, sharedLog: false)
        let before = (syncs(first), syncs(second))
        var head = try second.commit(base: try second.headCommit(), writes: [object(oids.lowerBound, 1)], author: "t", message: "new file")
        XCTAssertTrue(syncFileIsValid(path))
        head = try first.commit(base: head, writes: [object(oids.lowerBound + 1, 2)], author: "t", message: "old file")
        XCTAssertEqual(syncs(first) - before.0, 1)
        XCTAssertEqual(syncs(second) - before.1, 1)
        XCTAssertEqual(try second.load(oid: oids.lowerBound, asOf: head)?.slots, [smallInteger(1)])
        XCTAssertEqual(try second.load(oid: oids.lowerBound + 1, asOf: head)?.slots, [smallInteger(2)])
    }
}
