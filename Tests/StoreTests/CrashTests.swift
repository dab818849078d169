// Crash safety: a child process commits in a loop and is killed with SIGKILL at random moments; every
// commit it saw acknowledged must be in the store afterwards, and the store must check clean.

import Foundation
import XCTest
@testable import Store

final class CrashTests: XCTestCase {
    private let directory = TemporaryDirectory()

    /// The child commits through SQLite, each commit its own transaction and WAL sync (LO_SHARED_LOG=0).
    func testEveryAcknowledgedCommitSurvivesSIGKILL() throws {
        try killRepeatedly(.sqlite)
    }

    /// The child opens the store exclusively: its commits are acknowledged after the commit log's sync,
    /// and the parent's open replays what the child had not applied to SQLite yet.
    func testEveryAcknowledgedCommitSurvivesSIGKILLWithTheCommitLog() throws {
        try killRepeatedly(.exclusive)
    }

    /// The child commits through the commit log shared by processes (the default); the parent's open,
    /// alone, replays what the child had not applied.
    func testEveryAcknowledgedCommitSurvivesSIGKILLWithTheSharedLog() throws {
        try killRepeatedly(.sharedLog)
    }

    private enum Mode: String { case sqlite, exclusive, sharedLog }

    private func killRepeatedly(_ mode: Mode) throws {
        let executable = try storeTortureExecutable()
        let exclusive = mode == .exclusive
        let path = directory.file("torture-\(mode.rawValue).lo")
        let kills = Int(ProcessInfo.processInfo.environment["STORE_TORTURE_KILLS"] ?? "") ?? 100
        let environment = childEnvironment(sharedLog: mode == .sharedLog, exclusive: exclusive)
        var leftLogs = 0
        var acknowledged = 0, maximum = 0
        for round in 0..<kills {
            let child = Process()
            child.executableURL = executable
            child.arguments = [path]
            child.environment = environment
            let output = Pipe(), errors = Pipe()
            child.standardOutput = output
            child.standardError = errors
            try child.run()
            Thread.sleep(forTimeInterval: Double.random(in: 0.02...0.15))
            let diedOnItsOwn = !child.isRunning
            kill(child.processIdentifier, SIGKILL)
            let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let complaint = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            child.waitUntilExit()
            XCTAssertFalse(diedOnItsOwn, "round \(round): the child stopped by itself: \(complaint)")

            // Lines are written whole (one write(2) each, shorter than PIPE_BUF), after commit returned.
            let acks = printed.split(separator: "\n").map { line in
                let fields = line.split(separator: " ")
                return (commit: CommitID(Int64(fields[0])!), counter: Int(fields[1])!)
            }
            if FileManager.default.fileExists(atPath: path + "-log") { leftLogs += 1 }
            let store: SQLiteStore
            do { store = try SQLiteStore.open(path: path, exclusive: false, sharedLog: mode == .sharedLog) } catch StoreError.fileNotFound, StoreError.notAStore {
                // Killed before it had made the store (a loaded machine may start it slowly): nothing to check.
                XCTAssertTrue(acks.isEmpty, "round \(round): commits acknowledged, but no store")
                continue
            }
            XCTAssertEqual(try store.check(), [], "round \(round)")
            guard let counterOID = try store.root(named: "counter", asOf: try store.headCommit()) else {
                XCTAssertTrue(acks.isEmpty)
                continue
            }
            for ack in acks {
                let counter = try store.load(oid: counterOID, asOf: ack.commit)?.slots?.first
                XCTAssertEqual(counter, smallInteger(ack.counter), "round \(round): commit \(ack.commit) lost")
            }
            if let last = acks.last {
                XCTAssertGreaterThanOrEqual(try store.headCommit(), last.commit)
                XCTAssertGreaterThan(last.counter, maximum, "counting went on from the last durable commit")
                maximum = last.counter
            }
            acknowledged += acks.count
        }
        XCTAssertGreaterThan(acknowledged, kills, "the child should commit several times per round")
        if mode != .sqlite { XCTAssertGreaterThan(leftLogs, kills / 2, "the child commits through the log") }
        print("crash test (\(mode.rawValue)): \(kills) kills, \(acknowledged) acknowledged commits, all present")
    }
}
