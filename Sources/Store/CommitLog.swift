// The commit log file (`<store>-log`, Docs/Store.md "The commit log"): a header, then checksummed
// records, one per commit, appended with one write per batch and synced. This file knows records as
// commit ids and opaque payloads; what a payload holds is LoggedCommit's business.

import Foundation
import Synchronization

/// One open commit log. Not thread-safe: it lives in a `Mutex` (ExclusiveLog, SharedLog), whose holder
/// alone uses it, and may be handed on under that lock (hence unchecked). Shared by processes, each
/// process's object knows the log as far as it has read it (SharedLog.swift says when it may).
final class CommitLog: @unchecked Sendable {
    struct Record: Equatable {
        let commit: CommitID
        let payload: [UInt8]
    }

    let path: String
    let descriptor: Int32
    /// Records of another generation (before the last reset) fail their checksum: it is seeded with this.
    private(set) var salt: UInt64
    /// The log's first record is commit `base + 1`.
    private(set) var base: CommitID
    /// The process that holds the log (0: none), for the error an opener refused gets.
    private(set) var holder: Int64
    /// The newest commit in the log (`base` when it is empty).
    private(set) var head: CommitID
    /// Where the next record goes.
    private(set) var end: Int
    /// Bytes of the file written (zeros past `end`): appends below this overwrite allocated blocks.
    private var allocated: Int
    private let preallocation: Int
    /// Set by a failed write or sync: whether a record reached the disk is then unknown, so no more.
    private var failure: StoreError?

    static let magic = Array("LOcmtlog".utf8)
    static let version: UInt32 = 1
    static let headerLength = 64
    static let firstRecord = 4096
    static let recordHeaderLength = 24
    static let maximumPayload = 256 << 20
    /// Tests: while set, growing the file fails as it does on a full disk.
    static let growthFailsForTests = Atomic<Bool>(false)

    /// Opens the log at `path` and reads its records, or makes a new empty one after `base` if the file
    /// is absent or empty (`preallocating` bytes of zeros). A file that is not a log, or whose header is
    /// damaged, throws and is left untouched.
    static func open(path: String, creatingAfter base: CommitID, holder: Int64 = 0,
                     preallocating: Int = 8 << 20) throws(StoreError) -> (log: CommitLog, records: [Record]) {
        let descriptor = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw ioError(path, "cannot open the commit log") }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            let error = ioError(path, "cannot read the commit log's size")
            close(descriptor)
            throw error
        }
        do {
            if status.st_size == 0 {
                let log = CommitLog(path: path, descriptor: descriptor, salt: UInt64.random(in: 1...UInt64.max),
                                    base: base, holder: holder, allocated: firstRecord, preallocation: preallocating)
                try log.writeHeader()
                try log.allocate(upTo: preallocating)
                try log.syncData()
                try syncDirectory(of: path)
                return (log, [])
            }
            let header = try readHeader(descriptor, size: Int(status.st_size), path: path)
            let log = CommitLog(path: path, descriptor: descriptor, salt: header.salt, base: header.base,
                                holder: header.holder, allocated: max(Int(status.st_size), firstRecord),
                                preallocation: preallocating)
            let records = log.readRecords(upTo: Int(status.st_size))
            return (log, records)
        } catch {
            close(descriptor)
            throw error
        }
    }

    /// Opens the existing log at `path` without reading it: its salt is unknown (0) until `reload`.
    static func openUnread(path: String) throws(StoreError) -> CommitLog {
        let descriptor = Glibc.open(path, O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else { throw ioError(path, "cannot open the commit log") }
        return CommitLog(path: path, descriptor: descriptor, salt: 0, base: CommitID(0), holder: 0,
                         allocated: firstRecord, preallocation: 8 << 20)
    }

    /// Reads the header again (another process reset the log): the log is then known as empty, from
    /// its first record on, until `readRecords`.
    func reload() throws(StoreError) {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw Self.ioError(path, "cannot read the commit log's size") }
        let header = try Self.readHeader(descriptor, size: Int(status.st_size), path: path)
        (salt, base, holder) = (header.salt, header.base, header.holder)
        head = base
        end = Self.firstRecord
    }

    /// Zeroes the bytes in `range` and syncs them: what a writer that died in its append may have left
    /// past the log's end, which could otherwise pass for records after the next append.
    func zero(_ range: Range<Int>) throws(StoreError) {
        guard !range.isEmpty else { return }
        let zeros = [UInt8](repeating: 0, count: 1 << 16)
        var offset = range.lowerBound
        while offset < range.upperBound {
            let count = min(zeros.count, range.upperBound - offset)
            try writeAll(Array(zeros[0..<count]), at: offset)
            offset += count
        }
        try syncData()
    }

    /// The holder recorded in the log at `path`, if there is a log with a valid header.
    static func holder(path: String) -> Int64? {
        let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, let header = try? readHeader(descriptor, size: Int(status.st_size), path: path),
              header.holder != 0 else { return nil }
        return header.holder
    }

    private init(path: String, descriptor: Int32, salt: UInt64, base: CommitID, holder: Int64, allocated: Int,
                 preallocation: Int) {
        self.path = path
        self.descriptor = descriptor
        self.salt = salt
        self.base = base
        self.holder = holder
        self.head = base
        self.end = Self.firstRecord
        self.allocated = allocated
        self.preallocation = preallocation
    }

    deinit { close(descriptor) }

    // MARK: Appending

    /// Writes one record per payload, commits `head + 1`, `head + 2`…, with one `pwrite` at the end of
    /// the log; answers the new head. Not durable until `sync`. After a failure nothing more is written.
    /// `announce` gets the end the log will have, before the write.
    @discardableResult
    func append(_ payloads: [[UInt8]], announce: (Int) -> Void = { _ in }) throws(StoreError) -> CommitID {
        if let failure { throw failure }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(payloads.reduce(0) { $0 + Self.recordHeaderLength + $1.count + 7 })
        var commit = head
        for payload in payloads {
            guard !payload.isEmpty, payload.count <= Self.maximumPayload else {
                throw .invalidRequest("a commit of \(payload.count) bytes does not fit in one log record")
            }
            commit = CommitID(commit.rawValue + 1)
            Self.appendRecord(commit: commit, payload: payload, salt: salt, to: &buffer)
        }
        guard !buffer.isEmpty else { return head }
        announce(end + buffer.count)
        do {
            if end + buffer.count > allocated {
                try allocate(upTo: max(2 * allocated, end + buffer.count + preallocation))
            }
            try writeAll(buffer, at: end)
        } catch {
            failure = error
            throw error
        }
        end += buffer.count
        head = commit
        return commit
    }

    /// Takes commits again after a failed write (the log shared by processes: the page says where it
    /// ends, and the bytes of the failed write are zeroed before the next append).
    func forgetFailure() { failure = nil }

    /// Makes every record appended so far durable.
    func sync() throws(StoreError) {
        if let failure { throw failure }
        do { try syncData() } catch {
            failure = error
            throw error
        }
    }

    /// Empties the log: from now on its first record is `base + 1`. The records it held (every one at or
    /// before `base`) must be durable elsewhere first. Synced before it returns.
    func reset(base: CommitID, holder: Int64? = nil) throws(StoreError) {
        if let failure { throw failure }
        let previous = (salt, self.base, self.holder)
        salt = salt &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407  // differs from every salt before it
        if salt == 0 { salt = 1 }
        self.base = base
        if let holder { self.holder = holder }
        do {
            try writeHeader()
            try syncData()
        } catch {
            (salt, self.base, self.holder) = previous
            failure = error
            throw error
        }
        head = base
        end = Self.firstRecord
    }

    // MARK: The file

    private func writeHeader() throws(StoreError) {
        var header = Self.magic
        Self.put(UInt64(Self.version), 4, &header)
        Self.put(0, 4, &header)
        Self.put(salt, 8, &header)
        Self.put(UInt64(bitPattern: base.rawValue), 8, &header)
        Self.put(UInt64(bitPattern: holder), 8, &header)
        Self.put(Self.checksum(salt: 0, header), 8, &header)
        header += [UInt8](repeating: 0, count: Self.headerLength - header.count)
        try writeAll(header, at: 0)
    }

    private static func readHeader(_ descriptor: Int32, size: Int, path: String) throws(StoreError)
        -> (salt: UInt64, base: CommitID, holder: Int64) {
        var header = [UInt8](repeating: 0, count: headerLength)
        let count = header.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, headerLength, 0) }
        guard count >= magic.count, Array(header[0..<magic.count]) == magic else {
            throw .notAStore(path: path, reason: "not a commit log (its first bytes are not \"LOcmtlog\")")
        }
        guard count == headerLength else { throw .corrupt(path: path, detail: "the commit log's header is cut short") }
        let version = load(header, 8, 4)
        guard version <= UInt64(Self.version) else { throw .unsupportedVersion(path: path, version: Int32(truncatingIfNeeded: version)) }
        guard load(header, 40, 8) == checksum(salt: 0, Array(header[0..<40])) else {
            throw .corrupt(path: path, detail: "the commit log's header fails its checksum")
        }
        let base = Int64(bitPattern: load(header, 24, 8))
        guard base >= 0 else { throw .corrupt(path: path, detail: "the commit log starts after commit \(base)") }
        return (load(header, 16, 8), CommitID(base), Int64(bitPattern: load(header, 32, 8)))
    }

    /// Reads the records from `end` on, up to `limit`, while each is whole, passes its checksum and
    /// holds the next commit; leaves `end` and `head` after the last of them. The bytes are read a
    /// window at a time (one `pread` for what other processes appended since the last look).
    func readRecords(upTo limit: Int) -> [Record] {
        var records: [Record] = []
        var window = Window(start: end, bytes: [])
        var offset = end
        while offset + Self.recordHeaderLength <= limit {
            guard let header = window.bytes(offset, Self.recordHeaderLength, limit: limit, self) else { break }
            let length = Int(Self.load(header, 0, 4)), reserved = Self.load(header, 4, 4)
            let commit = CommitID(head.rawValue + 1)
            let padded = (length + 7) & ~7
            guard length > 0, length <= Self.maximumPayload, reserved == 0,
                  Self.load(header, 8, 8) == UInt64(bitPattern: commit.rawValue),
                  offset + Self.recordHeaderLength + padded <= limit,
                  let payload = window.bytes(offset + Self.recordHeaderLength, length, limit: limit, self).map(Array.init),
                  Self.load(header, 16, 8) == Self.recordChecksum(salt: salt, commit: commit, payload: payload) else { break }
            records.append(Record(commit: commit, payload: payload))
            head = commit
            offset += Self.recordHeaderLength + padded
        }
        end = offset
        return records
    }

    /// Forgets the records read after `end` (after commit `head`): the next `readRecords` reads them again.
    func unread(end: Int, head: CommitID) {
        self.end = end
        self.head = head
    }

    /// Bytes of the file read ahead, up to 1 MB at a time.
    private struct Window {
        var start: Int
        var bytes: [UInt8]

        mutating func bytes(_ offset: Int, _ count: Int, limit: Int, _ log: CommitLog) -> ArraySlice<UInt8>? {
            if offset < start || offset + count > start + bytes.count {
                var fresh = [UInt8](repeating: 0, count: max(count, min(1 << 20, limit - offset)))
                guard log.readFully(&fresh, at: offset) else { return nil }
                (start, bytes) = (offset, fresh)
            }
            return bytes[(offset - start)..<(offset - start + count)]
        }
    }

    private static func appendRecord(commit: CommitID, payload: [UInt8], salt: UInt64, to buffer: inout [UInt8]) {
        put(UInt64(payload.count), 4, &buffer)
        put(0, 4, &buffer)
        put(UInt64(bitPattern: commit.rawValue), 8, &buffer)
        put(recordChecksum(salt: salt, commit: commit, payload: payload), 8, &buffer)
        buffer += payload
        buffer += [UInt8](repeating: 0, count: (8 - payload.count % 8) % 8)
    }

    /// Writes zeros from `allocated` to `size`, so that later appends there overwrite allocated blocks
    /// (a write into a hole or an `fallocate`d extent makes the next sync commit metadata too).
    private func allocate(upTo size: Int) throws(StoreError) {
        var status = stat()  // another process may have grown the file
        if fstat(descriptor, &status) == 0 { allocated = max(allocated, Int(status.st_size)) }
        if allocated < size && Self.growthFailsForTests.load(ordering: .relaxed) { throw .diskFull(path: path) }
        let chunk = [UInt8](repeating: 0, count: 1 << 20)
        while allocated < size {
            let count = min(chunk.count, size - allocated)
            try writeAll(Array(chunk[0..<count]), at: allocated)
            allocated += count
        }
    }

    private func writeAll(_ bytes: [UInt8], at offset: Int) throws(StoreError) {
        var done = 0
        while done < bytes.count {
            let written = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress! + done, bytes.count - done, off_t(offset + done)) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else {
                throw errno == ENOSPC || errno == EDQUOT ? .diskFull(path: path) : Self.ioError(path, "cannot write the commit log")
            }
            done += written
        }
    }

    private func readFully(_ bytes: inout [UInt8], at offset: Int) -> Bool {
        let count = bytes.count
        var done = 0
        while done < count {
            let read = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + done, count - done, off_t(offset + done)) }
            if read < 0 && errno == EINTR { continue }
            guard read > 0 else { return false }
            done += read
        }
        return true
    }

    private func syncData() throws(StoreError) {
        guard fdatasync(descriptor) == 0 else { throw Self.ioError(path, "fdatasync of the commit log failed") }
    }

    private static func syncDirectory(of path: String) throws(StoreError) {
        let parent = (path as NSString).deletingLastPathComponent
        let directory = Glibc.open(parent.isEmpty ? "." : parent, O_RDONLY | O_CLOEXEC | O_DIRECTORY)
        guard directory >= 0 else { throw ioError(path, "cannot open the commit log's directory") }
        defer { close(directory) }
        guard fsync(directory) == 0 else { throw ioError(path, "cannot sync the commit log's directory") }
    }

    private static func ioError(_ path: String, _ what: String) -> StoreError {
        .ioError(path: path, detail: "\(what): \(String(cString: strerror(errno)))")
    }

    // MARK: Checksums and fields

    static func recordChecksum(salt: UInt64, commit: CommitID, payload: [UInt8]) -> UInt64 {
        var lanes = ChecksumLanes(salt: salt)
        lanes.add(UInt64(payload.count))
        lanes.add(UInt64(bitPattern: commit.rawValue))
        lanes.add(payload)
        return lanes.value
    }

    private static func checksum(salt: UInt64, _ bytes: [UInt8]) -> UInt64 {
        var lanes = ChecksumLanes(salt: salt)
        lanes.add(bytes)
        return lanes.value
    }

    private static func put(_ value: UInt64, _ width: Int, _ bytes: inout [UInt8]) {
        for i in 0..<width { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
    }

    private static func load(_ bytes: some RandomAccessCollection<UInt8>, _ offset: Int, _ width: Int) -> UInt64 {
        var value: UInt64 = 0
        let first = bytes.startIndex
        for i in 0..<width { value |= UInt64(bytes[bytes.index(first, offsetBy: offset + i)]) << (8 * UInt64(i)) }
        return value
    }
}

/// A two-lane sum over little-endian 8-byte words (the last one padded with zeros), like the checksum
/// of SQLite's WAL frames: every word changes both lanes, and the second lane weighs words by position.
private struct ChecksumLanes {
    private var first: UInt64, second: UInt64

    init(salt: UInt64) {
        first = salt
        second = salt ^ 0x9E37_79B9_7F4A_7C15
    }

    mutating func add(_ word: UInt64) {
        first = first &+ word &+ second
        second = second &+ (first ^ (first >> 29))
    }

    mutating func add(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            let words = raw.count / 8
            for i in 0..<words { add(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))) }
            var last: UInt64 = 0
            for i in 0..<(raw.count % 8) { last |= UInt64(raw[8 * words + i]) << (8 * UInt64(i)) }
            if raw.count % 8 != 0 { add(last) }
        }
    }

    var value: UInt64 { first ^ (second &* 0xBF58_476D_1CE4_E5B9) }
}
