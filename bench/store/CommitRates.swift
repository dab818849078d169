// One-object commit rates beside the raw fsync rate of the same disk, measured in turns so that a disk
// whose speed swings is compared with itself: probe, 1 session, probe, 8 threads, probe, 8 processes,
// probe… Each rate is divided by the mean of the probes on either side of it; the last lines give the
// median ratio of the rounds for each mode.
//
//   store-bench commits [rounds] [seconds] [directory]      (a commit worker: store-bench commit-worker …)
//   store-bench commit-processes [processes] [seconds]  (only the processes' run, once, for profiling)
//   store-bench commit-stores [stores] [seconds]  (stores of one process, a thread each: posts without process switches)
//   store-bench commit-count [commits] [sessions]  (a fixed number of commits, for callgrind/strace; TMPDIR=/dev/shm: no disk)

import Foundation
import Store
import Synchronization

/// One session's loop: commit a new version of `oid` on top of the previous commit until `end`
/// (uptime nanoseconds); answers how many commits it made.
func commitLoop(_ store: SQLiteStore, oid: UInt64, classOID: UInt64, until end: UInt64) throws -> Int {
    var base = try store.headCommit()
    var value = 0
    while DispatchTime.now().uptimeNanoseconds < end {
        value += 1
        base = try store.commit(base: base, writes: [StoredObject(oid: oid, classOID: classOID, format: 1, slots: [smallInteger(value)])],
                                author: "bench", message: "one")
    }
    return value
}

/// Commits per second of `sessions` threads sharing one `SQLiteStore`, and commits per transaction.
/// Also the process's CPU time (user + system) per commit, in microseconds.
func threadCommitRate(_ store: SQLiteStore, sessions: Int, classOID: UInt64, duration: Double) throws
    -> (rate: Double, batching: Double, cpu: Double) {
    let before = store.groupCommitStatistics
    let oids = try store.allocateOIDs(count: sessions)
    let (rate, cpu) = try sessionCommitRate(Array(repeating: store, count: sessions), oids: oids, classOID: classOID, duration: duration)
    let after = store.groupCommitStatistics
    return (rate, Double(after.commits - before.commits) / Double(after.batches - before.batches), cpu)
}

/// Commits per second of one session per store of `stores` (the same store, or several), each on a
/// thread of its own writing one of `oids`, and the process's CPU time per commit in microseconds.
func sessionCommitRate(_ stores: [SQLiteStore], oids: Range<UInt64>, classOID: UInt64, duration: Double) throws
    -> (rate: Double, cpu: Double) {
    let counts = Mutex<Int>(0)
    let end = DispatchTime.now().uptimeNanoseconds + UInt64(duration * 1e9)
    let cpuBefore = cpuMicroseconds()
    let time = try seconds {
        try runThreads(stores.count) { session in
            let count = try commitLoop(stores[session], oid: oids.lowerBound + UInt64(session), classOID: classOID, until: end)
            counts.withLock { $0 += count }
        }
    }
    let commits = Double(counts.withLock { $0 })
    return (commits / time, Double(cpuMicroseconds() - cpuBefore) / commits)
}

/// Commits per second of `count` processes, each with its own `SQLiteStore` on the file at `path`, and
/// the CPU time (user + system) of their commit loops per commit, in microseconds, and WAL syncs per commit.
func processCommitRate(path: String, processes count: Int, classOID: UInt64, duration: Double) throws
    -> (rate: Double, cpu: Double, syncs: Double) {
    let store = try SQLiteStore.open(path: path)
    let oids = try store.allocateOIDs(count: count)
    let start = Date().timeIntervalSince1970 + 0.3  // every worker opens the store, then they start together
    let workers = try (0..<count).map { index in
        let worker = Process()
        let arguments = ["commit-worker", path, String(oids.lowerBound + UInt64(index)), String(classOID), String(start), String(duration)]
        // STORE_BENCH_WORKER_PREFIX="valgrind --tool=callgrind …": workers run under that command (the
        // first STORE_BENCH_PREFIXED_WORKERS of them, if set; the others natively).
        let environment = ProcessInfo.processInfo.environment
        if index < Int(environment["STORE_BENCH_PREFIXED_WORKERS"] ?? "") ?? count,
           let prefix = environment["STORE_BENCH_WORKER_PREFIX"]?.split(separator: " ").map(String.init), let command = prefix.first {
            worker.executableURL = URL(fileURLWithPath: command)
            worker.arguments = prefix.dropFirst() + [CommandLine.arguments[0]] + arguments
        } else {
            worker.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
            worker.arguments = arguments
        }
        let output = Pipe()
        worker.standardOutput = output
        try worker.run()
        return (worker, output)
    }
    var total = 0, cpu = 0, syncs = 0
    for (worker, output) in workers {
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        worker.waitUntilExit()
        let fields = text.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        guard worker.terminationStatus == 0, fields.count == 3 else { fatalError("a commit worker failed: \(text)") }
        total += fields[0]
        cpu += fields[1]
        syncs += fields[2]
    }
    let commits = Double(max(total, 1))
    return (Double(total) / duration, Double(cpu) / commits, Double(syncs) / commits)
}

/// `store-bench commit-worker PATH OID CLASS START DURATION`: waits until START (Unix time), commits
/// until DURATION later, prints how many commits it made, the CPU time that took (µs) and how many
/// WAL syncs it made meanwhile.
func commitWorker(_ arguments: [String]) throws {
    let store = try SQLiteStore.open(path: arguments[0])
    let start = Double(arguments[3])!, duration = Double(arguments[4])!
    let wait = start - Date().timeIntervalSince1970
    if wait > 0 { usleep(UInt32(wait * 1e6)) }
    let end = DispatchTime.now().uptimeNanoseconds + UInt64(duration * 1e9)
    let cpuStart = cpuMicroseconds(), syncsBefore = store.syncStatistics.syncs
    let made = try commitLoop(store, oid: UInt64(arguments[1])!, classOID: UInt64(arguments[2])!, until: end)
    print(made, cpuMicroseconds() - cpuStart, store.syncStatistics.syncs - syncsBefore)
}

/// Commits until the WAL has reached its full size (SQLite restarts it from the beginning after a
/// checkpoint); answers how many commits that took. While the file grows, each fdatasync also commits
/// the file system's journal (the file's size and blocks), about twice the cost of a sync later on.
func warmUpWAL(_ store: SQLiteStore, path: String, classOID: UInt64) throws -> Int {
    let oid = try store.allocateOIDs(count: 1).lowerBound
    var base = try store.headCommit()
    var largest = 0
    for count in 1...20_000 {
        base = try store.commit(base: base, writes: [StoredObject(oid: oid, classOID: classOID, format: 1, slots: [smallInteger(count)])],
                                author: "bench", message: "warm-up")
        let size = (try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? 0
        if size < largest || (size == largest && count > 100) { return count }
        largest = max(largest, size)
    }
    return 20_000
}

/// A fresh store for the commit figures, holding the class object the committed objects name.
private func commitStore() throws -> (path: String, store: SQLiteStore, classOID: UInt64) {
    let path = directory + "/commits.lo"
    let store = try SQLiteStore.open(path: path, create: true)
    let classOID = try store.allocateOIDs(count: 1).lowerBound
    _ = try store.commit(base: try store.headCommit(), writes: [StoredObject(oid: classOID, classOID: classOID, format: 0, slots: [])],
                         author: "bench", message: "class")
    return (path, store, classOID)
}

func commitFigures(rounds: Int, duration: Double) throws {
    let (path, store, classOID) = try commitStore()
    if ProcessInfo.processInfo.environment["STORE_BENCH_COLD_WAL"] == nil {
        print("WAL warm-up: \(try warmUpWAL(store, path: path, classOID: classOID)) commits")
    }
    print("round  fsync/s (probes between runs)  1 session (CPU per commit)  8 threads (commits per transaction, CPU per commit)"
          + "  8 processes (CPU per commit, syncs per commit)  [largest WAL: 1 session, 8 threads, 8 processes]")
    var processTraces: [String] = []
    var ratios: (one: [Double], threads: [Double], processes: [Double]) = ([], [], [])
    for round in 1...rounds {
        let probe0 = measureFsyncRate(duration: 1)
        let (one, oneWAL) = try watchingWAL(path) { try threadCommitRate(store, sessions: 1, classOID: classOID, duration: duration) }
        let probe1 = measureFsyncRate(duration: 1)
        let (eight, eightWAL) = try watchingWAL(path) { try threadCommitRate(store, sessions: 8, classOID: classOID, duration: duration) }
        let probe2 = measureFsyncRate(duration: 1)
        // A store opened exclusively (LO_EXCLUSIVE=1: the commit log) cannot be opened by other processes.
        let (processes, processWAL) = SQLiteStore.exclusiveByDefault ? ((rate: 0.0, cpu: 0.0, syncs: 0.0), WALSizes()) : try watchingWAL(path) {
            try processCommitRate(path: path, processes: 8, classOID: classOID, duration: duration)
        }
        let probe3 = SQLiteStore.exclusiveByDefault ? probe2 : measureFsyncRate(duration: 1)
        ratios.one.append(one.rate / ((probe0 + probe1) / 2))
        ratios.threads.append(eight.rate / ((probe1 + probe2) / 2))
        ratios.processes.append(processes.rate / ((probe2 + probe3) / 2))
        func ratio(_ rate: Double, _ ratios: [Double]) -> String { String(format: "%6.0f/s %5.2f×", rate, ratios.last!) }
        let probes = [probe0, probe1, probe2, probe3].map { String(format: "%.0f", $0) }.joined(separator: "/")
        print("\(round)  \(probes)  \(ratio(one.rate, ratios.one))" + String(format: " %3.0f µs", one.cpu) + "  \(ratio(eight.rate, ratios.threads))"
              + String(format: " (%.1f/tx, %3.0f µs)", eight.batching, eight.cpu) + "  \(ratio(processes.rate, ratios.processes))"
              + String(format: " (%3.0f µs, %.2f)", processes.cpu, processes.syncs)
              + "  [\(oneWAL.summary), \(eightWAL.summary), \(processWAL.summary)]")
        processTraces.append("\(round)  \(processWAL.traceInMB)")
    }
    print(String(format: "median of the rounds: 1 session %.2f×, 8 threads %.2f×, 8 processes %.2f×",
                 median(ratios.one), median(ratios.threads), median(ratios.processes)))
    print("WAL size (MB) every 0.25 s while 8 processes commit (from the workers' launch):")
    for trace in processTraces { print(trace) }
}

/// `store-bench commit-processes P S`: a fresh store with a warm WAL, then P processes commit for S
/// seconds, once: for profiling the workers (`strace -c -f`, `perf record`), no probe.
func processCommitFigures(processes: Int, duration: Double) throws {
    let (path, store, classOID) = try commitStore()
    _ = try warmUpWAL(store, path: path, classOID: classOID)
    let result = try processCommitRate(path: path, processes: processes, classOID: classOID, duration: duration)
    print(String(format: "%d processes: %.0f commits/s, %.0f µs CPU per commit, %.2f syncs per commit", processes, result.rate, result.cpu, result.syncs))
}

/// `store-bench commit-count N [T]`: a fresh store, then N one-object commits in one session (or in
/// T sessions on threads of their own, N/T each) and nothing else: for counting instructions
/// (`valgrind --tool=callgrind`) and syscalls (`strace -c -f`) per commit, by the difference between
/// two values of N.
func commitCount(_ count: Int, sessions: Int) throws {
    let path = directory + "/commit-count.lo"
    let store = try SQLiteStore.open(path: path, create: true)
    let oids = try store.allocateOIDs(count: sessions + 1)
    let classOID = oids.lowerBound
    _ = try store.commit(base: try store.headCommit(), writes: [StoredObject(oid: classOID, classOID: classOID, format: 0, slots: [])],
                         author: "bench", message: "class")
    let start = DispatchTime.now().uptimeNanoseconds, cpuStart = cpuMicroseconds()
    try runThreads(sessions) { session in
        var base = try store.headCommit()
        for value in 0..<count / sessions {
            base = try store.commit(base: base, writes: [StoredObject(oid: classOID + 1 + UInt64(session), classOID: classOID, format: 1,
                                                                       slots: [smallInteger(value)])],
                                     author: "bench", message: "one")
        }
    }
    let wall = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e3, cpu = Double(cpuMicroseconds() - cpuStart)
    let statistics = store.groupCommitStatistics
    let made = count / sessions * sessions
    print("\(made) commits in \(sessions) sessions, \(statistics.batches - 1) transactions"
          + String(format: "; per commit %.1f µs wall, %.1f µs CPU", wall / Double(made), cpu / Double(made)))
}

/// `store-bench commit-stores N S`: a fresh store with a warm WAL, then N stores of its file opened in
/// this process commit for S seconds, a thread each: the posting of commits between stores (as between
/// processes) without process switches, for profiling beside `commit-count` (one store's threads).
func storeCommitFigures(stores count: Int, duration: Double) throws {
    let (path, store, classOID) = try commitStore()
    _ = try warmUpWAL(store, path: path, classOID: classOID)
    let oids = try store.allocateOIDs(count: count)
    let stores = try (0..<count).map { _ in try SQLiteStore.open(path: path) }
    let (rate, cpu) = try sessionCommitRate(stores, oids: oids, classOID: classOID, duration: duration)
    print(String(format: "%d stores: %.0f commits/s, %.0f µs CPU per commit", count, rate, cpu))
}
