// Crash safety: a child process commits in a loop and is killed with SIGKILL at random moments; every
// commit it saw acknowledged must be in the store afterwards, and the store must check clean.

import Foundation
import XCTest
@testable import Store

final class CrashTests: XCTestCase {
    private let directory = TemporaryDirectory()

    func testEveryAcknowledgedCommitSurvivesSIGKILL() throws {
        try killRepeatedly(exclusive: false)
    }

    /// The child opens the store exclusively: its commits are acknowledged after the commit log's sync,
    /// and the parent's open replays what the child had not applied to SQLite yet.
    func testEveryAcknowledgedCommitSurvivesSIGKILLWithTheCommitLog() throws {
        try killRepeatedly(exclusive: true)
    }

    private func killRepeatedly(exclusive: Bool) throws {
        let executable = try storeTortureExecutable()
        let path = directory.file(exclusive ? "torture-exclusive.lo" : "torture.lo")
        let kills = Int(ProcessInfo.processInfo.environment["STORE_TORTURE_KILLS"] ?? "") ?? 100
        var environment = ProcessInfo.processInfo.environment
        environment["LO_EXCLUSIVE"] = exclusive ? "1" : nil
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
            do { store = try SQLiteStore.open(path: path, exclusive: false) } catch StoreError.fileNotFound, StoreError.notAStore {
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
        if exclusive { XCTAssertGreaterThan(leftLogs, kills / 2, "the child commits through the log") }
        print("crash test\(exclusive ? " (commit log)" : ""): \(kills) kills, \(acknowledged) acknowledged commits, all present")
    }
}
