// The WAL stays bounded while several stores on one file (each with connections of its own: for
// SQLite's read marks and locks, as good as processes) or several processes commit without a pause
// (WALRestart.swift); every commit is there, reads stay consistent, and killing the processes loses
// nothing they saw acknowledged.

import CSQLite
import Foundation
import Synchronization
import XCTest
@testable import Store

final class WALBoundTests: XCTestCase {
    private let directory = TemporaryDirectory()

    /// The largest WAL accepted: three times the checkpoint size (12.4 MB). A RESTART that gives up
    /// (on a loaded machine a debug build's threads can be kept waiting that long) lets the WAL grow
    /// until the next one. Without RESTART checkpoints these loads grow it past 70 MB.
    private let bound = 32 + 3 * Int(HeldSnapshot.checkpointFrames) * (4096 + 24)

    /// Four stores, each with two threads committing (group commit), and a reader.
    func testSeveralStoresCommittingWithoutAPauseKeepTheWALBounded() throws {
        // Where a sync costs nothing the commits outrun the bound: an idle store's snapshot, held for
        // 50 ms after its last commit (HeldSnapshot.swift), holds back the checkpoints while the others
        // commit thousands of frames. The bound is about disks (CI puts TMPDIR on one: .ci/run).
        if isInMemory(directory.path) {
            throw XCTSkip("\(directory.path) is in memory (tmpfs): the WAL's bound is measured on a disk")
        }
        let path = directory.file("stores.lo")
        let stores = try [SQLiteStore.open(path: path, create: true, sharedLog: false)] + (1..<4).map { _ in try SQLiteStore.open(path: path, sharedLog: false) }
        let reader = try SQLiteStore.open(path: path, sharedLog: false)
        let sessions = 2 * stores.count
        let pairs = try stores[0].allocateOIDs(count: 2 * sessions)
        let start = try stores[0].headCommit()
        let commitsPerSession = 750  // 6,000 commits, about 2 WAL frames each
        let watcher = WALWatcher(path + "-wal")
        let failures = Mutex<[String]>([])
        let done = Atomic<Bool>(false)
        let reads = Atomic<Int>(0)

        // A fifth store reads every pair as of its head every 2 ms meanwhile: both objects of a pair have
        // the same value, and it never goes back. (Reading without a pause, a debug build's slow reads on a
        // loaded machine can keep each RESTART waiting for the last one until it gives up.)
        let readerStopped = DispatchSemaphore(value: 0)
        Thread {
            defer { readerStopped.signal() }
            var seen = [Int](repeating: 0, count: sessions)
            do {
                while !done.load(ordering: .relaxed) {
                    let head = try reader.headCommit()
                    let objects = try reader.records(of: Array(pairs), asOf: head)
                    for session in 0..<sessions {
                        let values = objects.filter { ($0.oid - pairs.lowerBound) / 2 == UInt64(session) }
                            .map { Int(Int64(bitPattern: $0.slots![0]) >> 3) }
                        if values.isEmpty { continue }
                        guard values.count == 2, values[0] == values[1], values[0] >= seen[session] else {
                            failures.withLock { $0.append("session \(session)'s pair as of \(head): \(values), after \(seen[session])") }
                            return
                        }
                        seen[session] = values[0]
                    }
                    reads.add(1, ordering: .relaxed)
                    usleep(2_000)
                }
            } catch { failures.withLock { $0.append("reader: \(error)") } }
        }.start()
        // Each session commits its own pair of objects, both with the same value, on top of its last commit.
        runThreads(sessions) { session in
            let store = stores[session % stores.count]
            let first = pairs.lowerBound + 2 * UInt64(session)
            do {
                var base = try store.headCommit()
                for value in 1...commitsPerSession {
                    base = try store.commit(base: base, writes: [
                        StoredObject(oid: first, classOID: first, format: 1, slots: [smallInteger(value)]),
                        StoredObject(oid: first + 1, classOID: first, format: 1, slots: [smallInteger(value)]),
                    ], author: "t", message: "session \(session)")
                }
            } catch { failures.withLock { $0.append("session \(session): \(error)") } }
        }
        done.store(true, ordering: .relaxed)
        readerStopped.wait()
        let largest = watcher.stop()

        XCTAssertEqual(failures.withLock { $0 }, [])
        XCTAssertGreaterThan(reads.load(ordering: .relaxed), 0)
        XCTAssertLessThanOrEqual(largest, bound, "the WAL reached \(largest) bytes")
        let head = try reader.headCommit()
        XCTAssertEqual(head.rawValue, start.rawValue + Int64(sessions * commitsPerSession), "commits missing")
        let objects = try reader.records(of: Array(pairs), asOf: head)
        XCTAssertEqual(objects.map { $0.slots! }, [[UInt64]](repeating: [smallInteger(commitsPerSession)], count: pairs.count))
        XCTAssertEqual(try reader.check(), [])
    }

    /// Four processes (the crash tests' child, each counting under a root of its own) commit without a
    /// pause until they have made 3,000 commits between them, then are killed.
    func testSeveralProcessesCommittingWithoutAPauseKeepTheWALBoundedAndLoseNothing() throws {
        let executable = try storeTortureExecutable()
        let path = directory.file("processes.lo")
        _ = try SQLiteStore.open(path: path, create: true, sharedLog: false)  // before the children, which would race to make it
        let lanes = (0..<4).map { "counter-\($0)" }
        let watcher = WALWatcher(path + "-wal")
        func file(_ lane: String, _ name: String) throws -> FileHandle {
            FileManager.default.createFile(atPath: directory.file("\(lane).\(name)"), contents: nil)
            return try FileHandle(forWritingTo: URL(fileURLWithPath: directory.file("\(lane).\(name)")))
        }
        let children = try lanes.map { lane in
            let child = Process()
            child.executableURL = executable
            child.arguments = [path, lane]
            child.environment = childEnvironment(sharedLog: false)
            child.standardOutput = try file(lane, "out")
            child.standardError = try file(lane, "err")
            try child.run()
            return child
        }
        func output(_ lane: String, _ name: String) -> String {
            (try? String(contentsOfFile: directory.file("\(lane).\(name)"), encoding: .utf8)) ?? ""
        }
        let target = 3000
        let deadline = Date().addingTimeInterval(120)
        var made = 0
        while made < target && Date() < deadline && children.allSatisfy(\.isRunning) {
            usleep(50_000)
            made = lanes.reduce(0) { $0 + output($1, "out").utf8.count { $0 == UInt8(ascii: "\n") } }
        }
        let running = children.map(\.isRunning)
        for child in children {
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
        }
        let largest = watcher.stop()

        XCTAssertEqual(running, [true, true, true, true], "a child stopped by itself: \(lanes.map { output($0, "err") })")
        XCTAssertGreaterThanOrEqual(made, target, "the children made too few commits to fill the WAL")
        XCTAssertLessThanOrEqual(largest, bound, "the WAL reached \(largest) bytes")
        let store = try SQLiteStore.open(path: path, sharedLog: false)
        XCTAssertEqual(try store.check(), [])
        let head = try store.headCommit()
        for lane in lanes {
            // Lines are written whole (one write(2) each), after commit returned.
            let acks = output(lane, "out").split(separator: "\n").map { line in
                let fields = line.split(separator: " ")
                return (commit: CommitID(Int64(fields[0])!), counter: Int(fields[1])!)
            }
            XCTAssertEqual(acks.map(\.counter), Array(1..<acks.count + 1), lane)
            let counterOID = try XCTUnwrap(try store.root(named: lane, asOf: head), lane)
            for ack in acks {
                XCTAssertEqual(try store.load(oid: counterOID, asOf: ack.commit)?.slots?.first, smallInteger(ack.counter),
                               "\(lane): commit \(ack.commit) lost")
            }
        }
    }

    /// A read transaction of another connection that stays open while the WAL grows holds back the
    /// checkpoints; no RESTART waits for it, and its snapshot stays as it was. Once it is done, the WAL
    /// starts again instead of growing.
    func testNoRestartWaitsForAnOldReader() throws {
        let path = directory.file("old.lo")
        let store = try SQLiteStore.open(path: path, create: true, sharedLog: false)
        let oid = try store.allocateOIDs(count: 1).lowerBound
        try commit(store, oid, 0)
        let reader = try Connection(path: path, flags: SQLITE_OPEN_READWRITE)
        try reader.run(.begin)
        let before = try reader.integer("SELECT count(*) FROM commits")

        for value in 1...800 { try commit(store, oid, value) }  // about 1,600 frames
        XCTAssertEqual(store.writer.withLock { [$0.walRestart.completed, $0.walRestart.timedOut] }, [0, 0])
        XCTAssertEqual(try reader.integer("SELECT count(*) FROM commits"), before, "the reader's snapshot moved")
        try reader.run(.rollback)

        let grown = walSize(path)
        XCTAssertGreaterThan(grown, Int(HeldSnapshot.checkpointFrames) * 4096)
        for value in 801...1600 { try commit(store, oid, value) }
        // Only the first commit after the reader's end is appended: the next starts the WAL again.
        XCTAssertLessThanOrEqual(walSize(path), grown + 4 * (4096 + 24), "the WAL did not start again")
        XCTAssertGreaterThan(store.writer.withLock { $0.walRestart.completed }, 0)
        XCTAssertEqual(try store.load(oid: oid, asOf: try store.headCommit())?.slots, [smallInteger(1600)])
    }

    /// A reader that began just before the WAL reached the checkpoint size and stays: the RESTART waits
    /// for it, gives up after its bounded wait, and is not tried again once the reader is old.
    func testARestartGivesUpOnAYoungReaderThatStays() throws {
        let path = directory.file("young.lo")
        let store = try SQLiteStore.open(path: path, create: true, sharedLog: false)
        let oid = try store.allocateOIDs(count: 1).lowerBound
        var value = 0
        let nearlyDue = (Int(HeldSnapshot.checkpointFrames) - 20) * (4096 + 24)
        while walSize(path) < nearlyDue {
            value += 1
            try commit(store, oid, value)
        }
        let reader = try Connection(path: path, flags: SQLITE_OPEN_READWRITE)
        try reader.run(.begin)
        let before = try reader.integer("SELECT count(*) FROM commits")

        // 60 commits: the WAL reaches the checkpoint size and goes 100 frames past the reader's snapshot.
        // Each RESTART meanwhile waits for the reader and gives up (how many depends on how fast the
        // commits come: after one that gave up, the next is tried 0.1 s, 0.2 s… later).
        for _ in 1...60 {
            value += 1
            try commit(store, oid, value)
        }
        let (completed, gaveUp) = store.writer.withLock { ($0.walRestart.completed, $0.walRestart.timedOut) }
        XCTAssertEqual(completed, 0)
        XCTAssertGreaterThanOrEqual(gaveUp, 1, "no RESTART waited for the young reader")
        // Once every backoff is over, a RESTART would be due again; the reader is old now: none is tried.
        usleep(UInt32(WALRestart.longestBackoff / 1000) + 100_000)
        let started = Date()
        for _ in 1...240 {
            value += 1
            try commit(store, oid, value)
        }
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertEqual(store.writer.withLock { $0.walRestart.timedOut }, gaveUp, "a RESTART waited for an old reader")
        XCTAssertLessThan(elapsed, 20, "commits stalled")
        XCTAssertEqual(try reader.integer("SELECT count(*) FROM commits"), before, "the reader's snapshot moved")
        try reader.run(.rollback)
        XCTAssertEqual(try store.load(oid: oid, asOf: try store.headCommit())?.slots, [smallInteger(value)])
    }

    private func commit(_ store: SQLiteStore, _ oid: UInt64, _ value: Int) throws {
        _ = try store.commit(base: try store.headCommit(), writes: [StoredObject(oid: oid, classOID: oid, format: 1, slots: [smallInteger(value)])],
                             author: "t", message: "one")
    }

    private func walSize(_ path: String) -> Int {
        (try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? 0
    }
}

/// Samples the size of a file every 2 ms on a thread of its own until stopped; answers the largest.
final class WALWatcher: Sendable {
    private let largest = Mutex(0)
    private let running = Atomic<Bool>(true)
    private let stopped = DispatchSemaphore(value: 0)

    init(_ path: String) {
        Thread { [self] in
            while running.load(ordering: .relaxed) {
                var status = stat()
                if stat(path, &status) == 0 { largest.withLock { $0 = max($0, Int(status.st_size)) } }
                usleep(2_000)
            }
            stopped.signal()
        }.start()
    }

    func stop() -> Int {
        running.store(false, ordering: .relaxed)
        stopped.wait()
        return largest.withLock { $0 }
    }
}
