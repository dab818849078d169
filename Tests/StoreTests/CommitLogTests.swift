// The commit log file alone: records written, synced and read back; torn and foreign tails; resets;
// files that are not logs.

import Foundation
import XCTest
@testable import Store

final class CommitLogTests: XCTestCase {
    private let directory = TemporaryDirectory()

    private func payload(_ commit: Int, _ length: Int = 40) -> [UInt8] {
        (0..<length).map { UInt8(truncatingIfNeeded: commit &* 31 &+ $0) }
    }

    private func reopen(_ path: String) throws -> (log: CommitLog, records: [CommitLog.Record]) {
        try CommitLog.open(path: path, creatingAfter: CommitID(999), preallocating: 8192)
    }

    private func bytes(_ path: String) -> [UInt8] { [UInt8](FileManager.default.contents(atPath: path)!) }

    private func overwrite(_ path: String, at offset: Int, with bytes: [UInt8]) throws {
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        try handle.seek(toOffset: UInt64(offset))
        try handle.write(contentsOf: bytes)
        try handle.close()
    }

    func testRecordsComeBackInOrderAfterReopening() throws {
        let path = directory.file("a-log")
        do {
            let (log, records) = try CommitLog.open(path: path, creatingAfter: CommitID(7), holder: 4242, preallocating: 8192)
            XCTAssertEqual(records, [])
            XCTAssertEqual(try log.append([payload(8), payload(9, 1), payload(10, 5000)]), CommitID(10))
            try log.sync()
            XCTAssertEqual(try log.append([payload(11, 8)]), CommitID(11))
            try log.sync()
        }
        let (log, records) = try reopen(path)
        XCTAssertEqual(records.map(\.commit), [8, 9, 10, 11].map { CommitID(Int64($0)) })
        XCTAssertEqual(records.map(\.payload), [payload(8), payload(9, 1), payload(10, 5000), payload(11, 8)])
        XCTAssertEqual(log.base, CommitID(7))
        XCTAssertEqual(log.holder, 4242)
        XCTAssertEqual(log.head, CommitID(11))
        XCTAssertEqual(try log.append([payload(12)]), CommitID(12), "appends go on after the last record")
        try log.sync()
        XCTAssertEqual(try reopen(path).records.map(\.commit.rawValue), [8, 9, 10, 11, 12])
    }

    func testTheLogGrowsPastItsPreallocation() throws {
        let path = directory.file("grow-log")
        let big = payload(1, 300_000)
        do {
            let (log, _) = try CommitLog.open(path: path, creatingAfter: CommitID(0), preallocating: 8192)
            try log.append([big, payload(2)])
            try log.append([big])
            try log.sync()
        }
        XCTAssertEqual(try reopen(path).records.map(\.payload), [big, payload(2), big])
    }

    func testATornLastRecordIsDroppedAndOverwritten() throws {
        let path = directory.file("torn-log")
        let lastOffset: Int
        do {
            let (log, _) = try CommitLog.open(path: path, creatingAfter: CommitID(0), preallocating: 8192)
            try log.append([payload(1), payload(2)])
            lastOffset = log.end
            try log.append([payload(3, 100)])
            try log.sync()
        }
        // Half of the last record's payload never reached the disk.
        try overwrite(path, at: lastOffset + CommitLog.recordHeaderLength + 50, with: [UInt8](repeating: 0, count: 50))
        let (log, records) = try reopen(path)
        XCTAssertEqual(records.map(\.commit.rawValue), [1, 2])
        XCTAssertEqual(log.end, lastOffset)
        XCTAssertEqual(try log.append([payload(30)]), CommitID(3), "the torn record's commit is given again")
        try log.sync()
        XCTAssertEqual(try reopen(path).records.map(\.payload), [payload(1), payload(2), payload(30)])
    }

    func testGarbageAfterTheLastRecordEndsTheLog() throws {
        let path = directory.file("garbage-log")
        let end: Int
        do {
            let (log, _) = try CommitLog.open(path: path, creatingAfter: CommitID(0), preallocating: 8192)
            try log.append([payload(1)])
            try log.sync()
            end = log.end
        }
        var generator = SystemRandomNumberGenerator()
        for trial in 0..<50 {
            let garbage = (0..<(trial * 7 + 1)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            try overwrite(path, at: end, with: garbage)
            XCTAssertEqual(try reopen(path).records.map(\.commit.rawValue), [1], "garbage of \(garbage.count) bytes")
        }
        // A record header that claims more bytes than the file has.
        var header: [UInt8] = [0xff, 0xff, 0xff, 0x0f, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]
        header += [UInt8](repeating: 0, count: 8)
        try overwrite(path, at: end, with: header)
        XCTAssertEqual(try reopen(path).records.map(\.commit.rawValue), [1])
    }

    func testARecordOutOfSequenceEndsTheLog() throws {
        let path = directory.file("sequence-log")
        let secondOffset: Int
        do {
            let (log, _) = try CommitLog.open(path: path, creatingAfter: CommitID(0), preallocating: 8192)
            try log.append([payload(1)])
            secondOffset = log.end
            try log.append([payload(2), payload(3)])
            try log.sync()
        }
        // Commit 2's id changed to 5: it and what follows are not read.
        try overwrite(path, at: secondOffset + 8, with: [5])
        XCTAssertEqual(try reopen(path).records.map(\.commit.rawValue), [1])
    }

    func testResetEmptiesTheLogAndOldRecordsNeverComeBack() throws {
        let path = directory.file("reset-log")
        do {
            let (log, _) = try CommitLog.open(path: path, creatingAfter: CommitID(0), preallocating: 8192)
            try log.append((1...5).map { payload($0) })
            try log.sync()
            try log.reset(base: CommitID(5))
            XCTAssertEqual(log.head, CommitID(5))
        }
        do {
            let (log, records) = try reopen(path)
            XCTAssertEqual(records, [], "records of the generation before the reset fail their checksum")
            XCTAssertEqual(log.base, CommitID(5))
            try log.append([payload(6, 8)])  // shorter than the old record 1 it overwrites
            try log.sync()
        }
        let (log, records) = try reopen(path)
        XCTAssertEqual(records, [CommitLog.Record(commit: CommitID(6), payload: payload(6, 8))])
        // Reset twice, then the same commit ids again: still only the newest generation's.
        try log.reset(base: CommitID(0))
        try log.reset(base: CommitID(5))
        XCTAssertEqual(try reopen(path).records, [])
    }

    func testAFileThatIsNotALogIsRefusedAndLeftAlone() throws {
        let sqliteHeader = Array("SQLite format 3\0".utf8) + [UInt8](repeating: 7, count: 200)
        let text = Array("just some text in a file that happens to be called -log\n".utf8)
        let short = Array("LOcm".utf8)
        for (name, contents) in [("sqlite", sqliteHeader), ("text", text), ("short", short), ("one byte", [0x4c])] {
            let path = directory.file("foreign-\(name)")
            FileManager.default.createFile(atPath: path, contents: Data(contents))
            XCTAssertThrowsError(try reopen(path), name) { error in
                guard case StoreError.notAStore(path, let reason) = error else { return XCTFail("\(name): \(error)") }
                XCTAssertTrue(reason.contains("not a commit log"), reason)
            }
            XCTAssertEqual(bytes(path), contents, "\(name) is left unchanged")
        }
    }

    func testADamagedHeaderIsAClearError() throws {
        let path = directory.file("damaged-log")
        do {
            let (log, _) = try CommitLog.open(path: path, creatingAfter: CommitID(3), preallocating: 8192)
            try log.append([payload(4)])
            try log.sync()
        }
        let original = bytes(path)
        try overwrite(path, at: 24, with: [9])  // the base
        XCTAssertThrowsError(try reopen(path)) { error in
            guard case let StoreError.corrupt(_, detail) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(detail.contains("checksum"), detail)
        }
        try overwrite(path, at: 8, with: [2])  // a newer version
        XCTAssertThrowsError(try reopen(path)) { error in
            XCTAssertEqual(error as? StoreError, .unsupportedVersion(path: path, version: 2))
        }
        FileManager.default.createFile(atPath: path, contents: Data(original.prefix(40)))
        XCTAssertThrowsError(try reopen(path)) { error in
            guard case let StoreError.corrupt(_, detail) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(detail.contains("cut short"), detail)
        }
    }

    func testAnEmptyFileBecomesANewLog() throws {
        let path = directory.file("empty-log")
        FileManager.default.createFile(atPath: path, contents: Data())
        let (log, records) = try reopen(path)
        XCTAssertEqual(records, [])
        XCTAssertEqual(log.base, CommitID(999))
        XCTAssertEqual(try log.append([payload(1000)]), CommitID(1000))
    }

    func testWritesThatFailAreErrorsAndStopTheLog() throws {
        XCTAssertThrowsError(try CommitLog.open(path: "/dev/full", creatingAfter: CommitID(0))) { error in
            XCTAssertEqual(error as? StoreError, .diskFull(path: "/dev/full"))
        }
        let (log, _) = try reopen(directory.file("limits-log"))
        XCTAssertThrowsError(try log.append([[]])) { error in
            guard case StoreError.invalidRequest = error else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(log.head, CommitID(999), "nothing was appended")
    }
}
