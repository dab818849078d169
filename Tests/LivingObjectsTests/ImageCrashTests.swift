// Crash safety of an image: a `lo` process runs a Smalltalk loop that changes persistent objects and
// commits, printing each commit's number once `System commit` has returned; the test kills it with
// SIGKILL at random moments, many times. After each kill `lo check` is clean, the image opens, it holds
// at least the last acknowledged commit (and at most the one in flight), and what each commit changed
// together agrees. IMAGE_TORTURE_KILLS sets the number of kills (default 15: a round takes 2–3 s in a
// debug build, most of it `lo check`).

import Foundation
import XCTest
@testable import LivingObjects

final class ImageCrashTests: MasterImageTestCase {
    override class var master: MasterImage? { DurabilityImage.master }

    /// Commits forever. Each commit sets both counters to n, gives both a new Array (the same one),
    /// adds n to a log; every 10th adds 100 KB of bytes (stored out of line), every 25th a Blob.
    private static let torture = """
        | left right n |
        left := Smalltalk at: #TortureLeft.
        right := Smalltalk at: #TortureRight.
        n := left first.
        [true] whileTrue: [
            n := n + 1.
            left at: 1 put: n; at: 2 put: (Array with: n with: n printString).
            right at: 1 put: n; at: 2 put: (left at: 2).
            TortureLog addLast: n.
            TortureLog size > 50 ifTrue: [TortureLog removeFirst].
            n \\\\ 10 = 0 ifTrue: [right at: 3 put: ((ByteArray new: 100000) at: 100000 put: n \\\\ 256; yourself)].
            n \\\\ 25 = 0 ifTrue: [left at: 3 put: (Blob fromBytes: ((ByteArray new: 300000) at: 300000 put: n \\\\ 256; yourself))].
            System commit: 'torture ', n printString.
            Stdio stdout nextPutAll: n printString , (String with: Character lf)]
        """

    /// The committed counter, then whether each thing changed with it agrees with it.
    private static let verification = """
        | left right n |
        left := TortureLeft. right := TortureRight. n := left first.
        { n.
          right first = n.
          (left at: 2) == (right at: 2).
          n = 0 or: [(left at: 2) first = n and: [(left at: 2) last = n printString]].
          TortureLog isEmpty or: [TortureLog last = n].
          n < 10 or: [((right at: 3) at: 100000) = (n - (n \\\\ 10) \\\\ 256)].
          n < 25 or: [((left at: 3) at: 300000) = (n - (n \\\\ 25) \\\\ 256)] }
        """

    /// `lo` commits through SQLite, each commit its own transaction and WAL sync (`LO_SHARED_LOG=0`).
    func testEveryAcknowledgedCommitSurvivesSIGKILL() throws {
        try killRepeatedly(.sqlite)
    }

    /// `lo` opens the image exclusively (`LO_EXCLUSIVE=1`): commits are acknowledged after the commit
    /// log's sync; `lo check` and the parent's open replay what the killed child had not applied.
    func testEveryAcknowledgedCommitSurvivesSIGKILLWithTheCommitLog() throws {
        try killRepeatedly(.exclusive)
    }

    /// `lo` commits through the commit log shared by processes (the default); `lo check` and the
    /// parent's open replay what the killed child had not applied.
    func testEveryAcknowledgedCommitSurvivesSIGKILLWithTheSharedLog() throws {
        try killRepeatedly(.sharedLog)
    }

    private enum Mode: String { case sqlite, exclusive, sharedLog }

    private func killRepeatedly(_ mode: Mode) throws {
        let exclusive = mode == .exclusive
        let kills = Int(ProcessInfo.processInfo.environment["IMAGE_TORTURE_KILLS"] ?? "") ?? 15
        let script = path("torture.st")
        try Self.torture.write(toFile: script, atomically: true, encoding: .utf8)
        var committed = 0, acknowledged = 0, inFlightFound = 0, leftLogs = 0
        for round in 0..<kills {
            let child = try LoProcess.make(["run", "--image", image, script], in: directory)
            child.environment?["LO_EXCLUSIVE"] = exclusive ? "1" : nil
            child.environment?["LO_SHARED_LOG"] = mode == .sharedLog ? "1" : "0"
            let output = Pipe(), errors = Pipe()
            let printed = Collected()
            child.standardOutput = output
            child.standardError = errors
            output.fileHandleForReading.readabilityHandler = { printed.append($0.availableData) }
            try child.run()
            // Most rounds kill a running loop, at a random moment after its first commit; every
            // fourth kills at a random moment of start-up and the first commits.
            if round % 4 == 0 {
                Thread.sleep(forTimeInterval: Double.random(in: 0...0.6))
            } else {
                let deadline = Date().addingTimeInterval(60)
                while !printed.hasLine && child.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.005) }
                Thread.sleep(forTimeInterval: Double.random(in: 0...0.25))
            }
            let diedOnItsOwn = !child.isRunning
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            output.fileHandleForReading.readabilityHandler = nil
            printed.append(output.fileHandleForReading.readDataToEndOfFile())
            let complaint = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            XCTAssertFalse(diedOnItsOwn, "round \(round): lo stopped by itself: \(complaint)")

            // Whole lines only: each is one write(2), shorter than PIPE_BUF, made after commit returned.
            let acks = printed.lines.compactMap { Int($0) }
            XCTAssertEqual(acks, acks.isEmpty ? [] : Array(committed + 1...committed + acks.count),
                           "round \(round): counting goes on from the last durable commit")
            if FileManager.default.fileExists(atPath: image + "-log") { leftLogs += 1 }
            let check = try LoProcess.run(["check", "--image", image], in: directory)
            XCTAssertEqual(check.status, 0, "round \(round): lo check: \(check.out) \(check.err)")
            let state = try Runtime(image: image).evaluateAndPrint(Self.verification)
            let fields = state.dropFirst(2).dropLast().split(separator: " ")
            let found = Int(fields.first ?? "") ?? -1
            XCTAssertEqual(fields.dropFirst().joined(separator: " "), "true true true true true true",
                           "round \(round): what one commit changed together disagrees: \(state)")
            let lastAcknowledged = acks.last ?? committed
            XCTAssertTrue(found == lastAcknowledged || found == lastAcknowledged + 1,
                          "round \(round): the image holds commit \(found), the last acknowledged was \(lastAcknowledged)")
            if found == lastAcknowledged + 1 { inFlightFound += 1 }
            acknowledged += acks.count
            committed = max(found, committed)
        }
        XCTAssertGreaterThan(acknowledged, kills, "the loop should commit several times per round")
        if mode != .sqlite { XCTAssertGreaterThan(leftLogs, kills / 2, "lo commits through the log") }
        print("image crash test (\(mode.rawValue)): \(kills) kills, \(acknowledged) acknowledged commits all present, "
              + "\(inFlightFound) unacknowledged commits found durable, \(committed) commits in all")
    }
}

/// What a child printed so far, appended from the pipe's reading thread.
private final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()

    func append(_ more: Data) { lock.withLock { data.append(more) } }

    var hasLine: Bool { lock.withLock { data.contains(UInt8(ascii: "\n")) } }

    /// The complete lines (a last one without its newline is left out).
    var lines: [String] {
        lock.withLock {
            guard let end = data.lastIndex(of: UInt8(ascii: "\n")) else { return [] }
            return String(decoding: data[..<end], as: UTF8.self).split(separator: "\n").map(String.init)
        }
    }
}

/// One image made from the kernel, with a global Counter of 1 and the objects the torture loop
/// changes; the crash, commit-failure and Blob tests copy it.
enum DurabilityImage {
    static let master = MasterImage("durability image") { c in
        _ = try c.rt.evaluate("""
            Smalltalk at: #Counter put: 1;
                at: #TortureLeft put: ((Array new: 3) at: 1 put: 0; yourself);
                at: #TortureRight put: ((Array new: 3) at: 1 put: 0; yourself);
                at: #TortureLog put: OrderedCollection new
            """)
    }
}
