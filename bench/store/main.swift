// Store figures for bench/RESULTS.md: bulk create, cold traversal, bytes per object, and one-object
// commit rates (1 and 8 sessions) next to the raw fsync rate of the same disk, measured in the same run.
// `image`: commits of the kernel's image through the VM instead (ImageCommits.swift).
//
//   swift build -c release --product store-bench && .build/release/store-bench [objects] [large MB] [directory]
//   .build/release/store-bench image [commits] [seconds]
//   .build/release/store-bench image-sessions [sessions] [seconds]      (ImageCommits.swift)
//   .build/release/store-bench commits [rounds] [seconds] [directory]   (CommitRates.swift)
//   .build/release/store-bench commit-count [commits] [sessions]        (CommitRates.swift)
//   .build/release/store-bench commit-processes [processes] [seconds]   (CommitRates.swift)
//   .build/release/store-bench commit-stores [stores] [seconds]         (CommitRates.swift)
//   .build/release/store-bench image-make PATH; store-bench image-commit-count N PATH [STATEMENT]   (ImageCommits.swift)

import Foundation
import Synchronization
import Store

let mode = CommandLine.arguments.count > 1 && Int(CommandLine.arguments[1]) == nil ? CommandLine.arguments[1] : nil
if mode == "commit-worker" {
    try commitWorker(Array(CommandLine.arguments.dropFirst(2)))
    exit(0)
}
if mode == "image-make" || mode == "image-commit-count" {
    let arguments = Array(CommandLine.arguments.dropFirst(2))
    let directory = NSTemporaryDirectory() + "store-bench-\(getpid())"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    if mode == "image-make" { try makeKernelImage(path: arguments[0]) }
    else if arguments.count > 2 { try imageCommitCount(Int(arguments[0])!, imagePath: arguments[1], statement: arguments[2], directory: directory) }
    else { try imageCommitCount(Int(arguments[0])!, imagePath: arguments[1], directory: directory) }
    try? FileManager.default.removeItem(atPath: directory)
    exit(0)
}
let imageMode = mode == "image"
let commitCountMode = mode == "commit-count"
let commitsMode = mode == "commits"
let commitProcessesMode = mode == "commit-processes"
let numbers = CommandLine.arguments.dropFirst(mode == nil ? 1 : 2)
let objectCount = numbers.count > 0 ? Int(numbers[numbers.startIndex])! : 1_000_000
let largeMegabytes = numbers.count > 1 ? Int(numbers[numbers.startIndex + 1])! : 1024
let directory = !imageMode && numbers.count > 2 ? numbers[numbers.startIndex + 2] : NSTemporaryDirectory() + "store-bench-\(getpid())"
try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: directory) }
let batchSize = 10_000

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func smallInteger(_ value: Int) -> UInt64 { UInt64(bitPattern: Int64(value) << 3 | 1) }
func report(_ label: String, _ value: String) { print(label.padding(toLength: 44, withPad: " ", startingAt: 0) + value) }
func rate(_ count: Int, _ time: Double) -> String { String(format: "%.0f/s", Double(count) / time) }

/// Raw fsyncs per second: rewrite 8 bytes of a file in the same directory and fsync, for `duration`.
func measureFsyncRate(duration: Double = 2) -> Double {
    let path = directory + "/fsync-probe"
    let fd = open(path, O_RDWR | O_CREAT, 0o644)
    defer { close(fd); unlink(path) }
    var count = 0
    let time = seconds {
        let end = DispatchTime.now().uptimeNanoseconds + UInt64(duration * 1e9)
        while DispatchTime.now().uptimeNanoseconds < end {
            var value = count
            _ = pwrite(fd, &value, 8, 0)
            _ = Foundation.fsync(fd)
            count += 1
        }
    }
    return Double(count) / time
}

/// Runs `body` on `count` threads of their own at once (GCD would run only as many as there are cores).
func runThreads(_ count: Int, _ body: @escaping @Sendable (Int) throws -> Void) throws {
    let done = DispatchSemaphore(value: 0)
    let failure = Mutex<String?>(nil)
    for index in 0..<count {
        Thread {
            do { try body(index) } catch { failure.withLock { $0 = $0 ?? "thread \(index): \(error)" } }
            done.signal()
        }.start()
    }
    for _ in 0..<count { done.wait() }
    if let message = failure.withLock({ $0 }) { throw ThreadFailure(message: message) }
}

/// The first error a thread of `runThreads` met (the others ran to their end).
struct ThreadFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// The process's peak resident memory so far, in MB (VmHWM).
func peakMemoryMB() -> Double {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
    return Double(line.split(separator: " ").dropFirst().first ?? "0")! / 1024
}

if mode == "image-sessions" {
    try imageSessionFigures(sessions: numbers.count > 0 ? objectCount : 8, duration: numbers.count > 1 ? Double(largeMegabytes) : 3)
    try? FileManager.default.removeItem(atPath: directory)
    exit(0)
}
if mode == "commit-stores" {
    try storeCommitFigures(stores: numbers.count > 0 ? objectCount : 8, duration: numbers.count > 1 ? Double(largeMegabytes) : 3)
    try? FileManager.default.removeItem(atPath: directory)
    exit(0)
}
if commitCountMode {
    try commitCount(numbers.count > 0 ? objectCount : 1000, sessions: numbers.count > 1 ? largeMegabytes : 1)
    try? FileManager.default.removeItem(atPath: directory)
    exit(0)
}
if commitsMode {
    try commitFigures(rounds: numbers.count > 0 ? objectCount : 3, duration: numbers.count > 1 ? Double(largeMegabytes) : 3)
    try? FileManager.default.removeItem(atPath: directory)
    exit(0)
}
if commitProcessesMode {
    try processCommitFigures(processes: numbers.count > 0 ? objectCount : 8, duration: numbers.count > 1 ? Double(largeMegabytes) : 2)
    try? FileManager.default.removeItem(atPath: directory)
    exit(0)
}
if imageMode {
    try imageFigures(commits: numbers.count > 0 ? objectCount : 50, duration: numbers.count > 1 ? Double(largeMegabytes) : 3)
    try? FileManager.default.removeItem(atPath: directory)
    exit(0)
}

// MARK: Large bytes: stream them in and out through a small buffer.

if largeMegabytes > 0 {
    let store = try SQLiteStore.open(path: directory + "/large.lo", create: true)
    let total = largeMegabytes << 20
    var written = 0
    var large: LargeBytes?
    let writeTime = try seconds {
        large = try store.writeLargeBytes { buffer in
            let count = min(buffer.count, total - written, (1 << 20) - written % (1 << 20))  // megabyte n holds byte n
            buffer.baseAddress!.initializeMemory(as: UInt8.self, repeating: UInt8(truncatingIfNeeded: written >> 20), count: count)
            written += count
            return count
        }
    }
    let oid = try store.allocateOIDs(count: 1).lowerBound
    let commit = try store.commit(base: try store.headCommit(), writes: [StoredObject(oid: oid, classOID: oid, format: 16, contents: .largeBytes(large!))],
                                  author: "bench", message: "large")
    var read = 0
    let readTime = try seconds {
        try store.readLargeBytes(oid: oid, asOf: commit) { buffer in
            precondition(buffer.last == UInt8(truncatingIfNeeded: (read + buffer.count - 1) >> 20))
            read += buffer.count
        }
    }
    precondition(read == total)
    report("large bytes \(largeMegabytes) MB write / read", String(format: "%.0f MB/s / %.0f MB/s, peak RSS %.0f MB",
                                                              Double(largeMegabytes) / writeTime, Double(largeMegabytes) / readTime, peakMemoryMB()))
}

// MARK: Bulk create: batches of 10 k objects [next, i, previous batch head], chained, under a root.

let path = directory + "/bench.lo"
var store: SQLiteStore? = try SQLiteStore.open(path: path, create: true)
let nilOID = try store!.allocateOIDs(count: 1).lowerBound
var head = try store!.commit(base: try store!.headCommit(), writes: [StoredObject(oid: nilOID, classOID: nilOID, format: 0, slots: [])],
                             author: "bench", message: "nil")
let createTime = try seconds {
    var previousHead = nilOID
    for batch in stride(from: 0, to: objectCount, by: batchSize) {
        let count = min(batchSize, objectCount - batch)
        let oids = try store!.allocateOIDs(count: count)
        var writes: [StoredObject] = []
        writes.reserveCapacity(count)
        for oid in oids {
            let next = oid + 1 < oids.upperBound ? oid + 1 : nilOID
            writes.append(StoredObject(oid: oid, classOID: nilOID, format: 1, slots: [
                StoredObject.reference(next), smallInteger(batch + Int(oid - oids.lowerBound)),
                StoredObject.reference(oid == oids.lowerBound ? previousHead : nilOID),
            ]))
        }
        head = try store!.commit(base: head, writes: writes, roots: ["bench": oids.lowerBound], author: "bench", message: "batch")
        previousHead = oids.lowerBound
    }
}
report("create \(objectCount) objects, commit every 10 k", rate(objectCount, createTime) + String(format: " (%.2f s)", createTime))
store = nil  // closing checkpoints the WAL into the file

let fileSize = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
report("bytes on disk per object", String(format: "%.1f (file %.1f MB)", Double(fileSize) / Double(objectCount), Double(fileSize) / 1e6))

// MARK: Cold traversal: reopen, follow references from the root, faulting in clusters of 4096.

var visited = 0
let traversalTime = try seconds {
    let reopened = try SQLiteStore.open(path: path)
    let snapshot = try reopened.headCommit()
    var loaded: [UInt64: StoredObject] = [:]
    var seen = Set<UInt64>()
    var stack = [try reopened.root(named: "bench", asOf: snapshot)!]
    while let oid = stack.popLast() {
        guard seen.insert(oid).inserted else { continue }
        if loaded[oid] == nil {
            for object in try reopened.loadCluster(startingAt: oid, limit: 4096, asOf: snapshot) where !seen.contains(object.oid) {
                loaded[object.oid] = object
            }
            if loaded[oid] == nil { loaded[oid] = try reopened.load(oids: [oid], asOf: snapshot)[0] }
        }
        let object = loaded.removeValue(forKey: oid)!
        visited += 1
        stack.append(contentsOf: object.referencedOIDs.reversed())
    }
}
precondition(visited == objectCount + 1, "traversal reached \(visited) objects")
report("cold traversal (reopened, cluster loads)", rate(visited, traversalTime) + String(format: " (%.2f s)", traversalTime))

let checked = try SQLiteStore.open(path: path)
var problems: [Problem] = []
let checkTime = try seconds { problems = try checked.check() }
report("check() of the whole store", String(format: "%.2f s, %d problems", checkTime, problems.count))

// MARK: One-object commits, 1 and 8 sessions, against the fsync rate.

let fsyncBefore = measureFsyncRate()
let oneSession = try threadCommitRate(checked, sessions: 1, classOID: nilOID, duration: 3).rate
let (eightSessions, eightBatching, _) = try threadCommitRate(checked, sessions: 8, classOID: nilOID, duration: 3)
let fsyncAfter = measureFsyncRate()
let fsyncRate = (fsyncBefore + fsyncAfter) / 2
report("raw fsync rate (before / after)", String(format: "%.0f/s / %.0f/s", fsyncBefore, fsyncAfter))
report("one-object commits, 1 session", String(format: "%.0f/s (%.2f× fsync)", oneSession, oneSession / fsyncRate))
report("one-object commits, 8 sessions", String(format: "%.0f/s (%.2f× fsync), %.1f commits per transaction",
                                                  eightSessions, eightSessions / fsyncRate, eightBatching))
