// Crash safety: a child process commits in a loop and is killed with SIGKILL at random moments; every
// commit it saw acknowledged must be in the store afterwards, and the store must check clean.

import Foundation
import XCTest
@testable import Store

final class CrashTests: XCTestCase {
    private let directory = TemporaryDirectory()

    func testEveryAcknowledgedCommitSurvivesSIGKILL() throws {
        let executable = try storeTortureExecutable()
        let path = directory.file("torture.lo")
        let kills = Int(ProcessInfo.processInfo.environment["STORE_TORTURE_KILLS"] ?? "") ?? 100
        var acknowledged = 0, maximum = 0
        for round in 0..<kills {
            let child = Process()
            child.executableURL = executable
            child.arguments = [path]
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
            let store: SQLiteStore
            do { store = try SQLiteStore.open(path: path) } catch StoreError.fileNotFound, StoreError.notAStore {
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
        print("crash test: \(kills) kills, \(acknowledged) acknowledged commits, all present")
    }
}
