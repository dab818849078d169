// Temporary store files, threads and the crash tests' child, for the tests.

import Foundation
import Synchronization
import XCTest
@testable import Store

/// A fresh directory for one test's files, removed when the test ends.
/// A scratch directory, removed when the test process exits: XCTest keeps every test-case object
/// (and so its directory) alive until then, so a deinit alone never runs.
final class TemporaryDirectory {
    let path: String

    init() {
        path = NSTemporaryDirectory() + "store-tests-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        TemporaryDirectory.removeAtExit(path)
    }

    nonisolated(unsafe) private static var made: [String] = []
    private static let registerCleanup: Void = {
        atexit { for path in TemporaryDirectory.made { try? FileManager.default.removeItem(atPath: path) } }
    }()

    private static func removeAtExit(_ path: String) {
        _ = registerCleanup
        made.append(path)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }
}

/// Whether `path` is on a file system in memory (tmpfs, ramfs: the type of the longest mount point
/// in /proc/mounts that holds it), where syncs cost nothing.
func isInMemory(_ path: String) -> Bool {
    guard let mounts = try? String(contentsOfFile: "/proc/mounts", encoding: .utf8) else { return false }
    let real = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
    var longest = "", type = ""
    for line in mounts.split(separator: "\n") {
        let fields = line.split(separator: " ")
        guard fields.count > 2 else { continue }
        let point = String(fields[1])
        let holds = real == point || real.hasPrefix(point == "/" ? "/" : point + "/")
        if holds && point.count >= longest.count { (longest, type) = (point, String(fields[2])) }
    }
    return type == "tmpfs" || type == "ramfs"
}

/// Polls every millisecond until `condition` holds (true) or `seconds` have passed (false).
func waitUntil(within seconds: Double = 10, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date() + seconds
    while try !condition() {
        if Date() > deadline { return false }
        usleep(1000)
    }
    return true
}

/// Whether the store at `path` has closed within 10 s, as its removed WAL shows: a store closes when its
/// last user lets go of it or, if a background apply was running then, when that ends (LogCommits.swift);
/// its last connection's close checkpoints the WAL into the file and removes it.
func closedWithin10Seconds(_ path: String) -> Bool {
    waitUntil { !FileManager.default.fileExists(atPath: path + "-wal") }
}

func smallInteger(_ value: Int) -> UInt64 { UInt64(bitPattern: Int64(value) << 3 | 1) }

/// A one-slot object that is its own class: what commit tests write, a new value each time.
func object(_ oid: UInt64, _ value: Int) -> StoredObject {
    StoredObject(oid: oid, classOID: oid, format: 1, slots: [smallInteger(value)])
}
func character(_ codePoint: UInt32) -> UInt64 { UInt64(codePoint) << 3 | 2 }
func ref(_ oid: UInt64) -> UInt64 { StoredObject.reference(oid) }

/// Runs `body` on `count` threads of their own at once (GCD would run only as many as there are cores).
func runThreads(_ count: Int, _ body: @escaping @Sendable (Int) throws -> Void) {
    let done = DispatchSemaphore(value: 0)
    for index in 0..<count {
        Thread {
            do { try body(index) } catch { XCTFail("thread \(index): \(error)") }
            done.signal()
        }.start()
    }
    for _ in 0..<count { done.wait() }
}

/// One commit of `value` into object `oid`, made on a thread of its own; `returned` once `commit` has
/// returned (an error fails the test).
final class BackgroundCommit: Sendable {
    private let id = Mutex<CommitID?>(nil)

    init(_ store: SQLiteStore, _ oid: UInt64, _ value: Int) {
        Thread { [self] in
            do {
                let commit = try store.commit(base: try store.headCommit(), writes: [object(oid, value)], author: "t", message: "background")
                id.withLock { $0 = commit }
            } catch { XCTFail("background commit: \(error)") }
        }.start()
    }

    var returned: Bool { id.withLock { $0 != nil } }

    /// Waits up to 20 s for the commit to return, failing the test if it does not.
    func wait(file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(waitUntil(within: 20) { returned }, "the commit returned", file: file, line: line)
    }
}

/// `store-torture`, built beside the test bundle (the crash test's child, and a holder of the sync mutex).
func storeTortureExecutable() throws -> URL {
    let candidates = [URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath(), Bundle.main.bundleURL,
                      Bundle(for: TemporaryDirectory.self).bundleURL]
    for candidate in candidates {
        var folder = candidate.deletingLastPathComponent()
        for _ in 0..<3 {
            let executable = folder.appendingPathComponent("store-torture")
            if FileManager.default.isExecutableFile(atPath: executable.path) { return executable }
            folder = folder.deletingLastPathComponent()
        }
    }
    throw XCTSkip("store-torture is not built beside the tests (swift build --product store-torture)")
}

/// The environment for a child process that opens its stores as the test's do: through the shared
/// commit log or not (`LO_SHARED_LOG`), exclusively or not (`LO_EXCLUSIVE`).
func childEnvironment(sharedLog: Bool, exclusive: Bool = false) -> [String: String] {
    var environment = ProcessInfo.processInfo.environment
    environment["LO_SHARED_LOG"] = sharedLog ? "1" : "0"
    environment["LO_EXCLUSIVE"] = exclusive ? "1" : nil
    return environment
}
