// Image figures (`store-bench image`): the cost of a commit (and of an abort) after changing one object
// of the bare kernel's image, from Swift and from Smalltalk (`System commit` in a loop), beside the
// fsync rate.

import Foundation
import LivingObjects
import Store
import Synchronization
import VMCore

/// CPU time (user + system) of the process so far, in microseconds.
func cpuMicroseconds() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1_000_000 + Int(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
}

func median<T: Comparable>(_ values: [T]) -> T { values.sorted()[values.count / 2] }

/// Commits the bootstrapped kernel (plus one global to change) to a fresh image, opens it, then measures
/// `commits` commits each after changing that global, and `System commit` in a Smalltalk loop for `duration`.
func imageFigures(commits: Int, duration: Double) throws {
    guard let kernel = Runtime.locateKernel() else { fatalError("cannot find the kernel sources: set LO_KERNEL") }
    let path = directory + "/image.lo"
    let firstCommit: Double
    if SQLiteStore.exclusiveByDefault {
        // A store opened exclusively is opened by one runtime alone: a child process makes the image.
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        child.arguments = ["image-make", path]
        child.environment = ProcessInfo.processInfo.environment.filter { $0.key != "LO_EXCLUSIVE" }
        firstCommit = try seconds {
            try child.run()
            child.waitUntilExit()
        }
        guard child.terminationStatus == 0 else { fatalError("image-make failed") }
    } else {
        let made = try Runtime(kernelDirectory: kernel)
        _ = try made.evaluate("Smalltalk at: #BenchCounter put: 0")
        firstCommit = try seconds { try made.commitImage(toPath: path, message: "kernel") }
    }
    let rt = try Runtime(image: path)
    let image = rt.imageStore!
    let objects = try image.commits(limit: 1)[0].objectCount
    report(SQLiteStore.exclusiveByDefault ? "bare kernel image: made by a child process" : "bare kernel image: first commit",
           String(format: "%d records in %.2f s", objects, firstCommit))

    var cpu: [Int] = [], wall: [Double] = [], written: [Int] = []
    for i in 1...commits {
        _ = try rt.evaluate("BenchCounter := \(i)")
        let started = cpuMicroseconds()
        wall.append(try seconds { try rt.commitImage(message: "one") })
        cpu.append(cpuMicroseconds() - started)
        written.append(try image.commits(limit: 1)[0].objectCount)
    }
    report("commit after changing one object (Swift)", String(format: "median CPU %d µs, wall %.2f ms, %d records",
                                                             median(cpu), median(wall) * 1e3, median(written)))
    cpu = []
    for i in 1...commits {
        _ = try rt.evaluate("BenchCounter := \(-i)")
        let started = cpuMicroseconds()
        try rt.abortImage()
        cpu.append(cpuMicroseconds() - started)
    }
    report("abort after changing one object (Swift)", String(format: "median CPU %d µs", median(cpu)))

    let fsyncBefore = measureFsyncRate()
    let started = cpuMicroseconds()
    var count = 0
    let time = try seconds {
        let n = try rt.evaluate("""
            | n end | n := 0. end := Time millisecondClockValue + \(Int(duration * 1000)).
            [Time millisecondClockValue < end] whileTrue: [BenchCounter := n. System commit. n := n + 1].
            n
            """)
        count = intValue(n)
    }
    let cpuPerCommit = Double(cpuMicroseconds() - started) / Double(count)
    let fsyncAfter = measureFsyncRate()
    let fsyncRate = (fsyncBefore + fsyncAfter) / 2
    report("raw fsync rate (before / after)", String(format: "%.0f/s / %.0f/s", fsyncBefore, fsyncAfter))
    report("System commit of one object, in a loop", String(format: "%.0f/s (%.2f× fsync), CPU %.0f µs per commit",
                                                            Double(count) / time, Double(count) / time / fsyncRate, cpuPerCommit))
}

/// `store-bench image-make PATH`: the bare kernel's image (plus the global `BenchCounter`) at `path`.
func makeKernelImage(path: String) throws {
    guard let kernel = Runtime.locateKernel() else { fatalError("cannot find the kernel sources: set LO_KERNEL") }
    let made = try Runtime(kernelDirectory: kernel)
    _ = try made.evaluate("Smalltalk at: #BenchCounter put: 0")
    try made.commitImage(toPath: path, message: "kernel")
}

/// `store-bench image-commit-count N PATH [STATEMENT]`: opens a copy of the image at `path` (made by
/// `image-make`) and makes `N` commits from Smalltalk, `STATEMENT. System commit` (by default
/// `BenchCounter := i`: one changed object), nothing else. For instruction counts: the difference of two
/// values of `N` is the cost of `System commit` (and of the statement).
func imageCommitCount(_ count: Int, imagePath: String, statement: String = "BenchCounter := i", directory: String) throws {
    let path = directory + "/image.lo"
    // A backup, not a copy of the file: commits may still be in the image's commit log.
    try SQLiteStore.open(path: imagePath).backup(to: path)
    let rt = try Runtime(image: path)
    let first = try rt.imageStore!.headCommit()
    _ = try rt.evaluate("1 to: \(count) do: [:i | \(statement). System commit]")
    let last = try rt.imageStore!.headCommit()
    precondition(last.rawValue - first.rawValue == count, "\(last.rawValue - first.rawValue) commits made, not \(count)")
    print("\(count) commits from Smalltalk of \(statement)")
}

/// `store-bench image-sessions [sessions] [seconds]`: the bare kernel's image opened by `sessions`
/// runtimes of this process, each on a thread of its own committing one changed object from Smalltalk
/// in a loop (`BenchCounterK := n. System commit`) for `seconds`, beside the fsync rate: the group
/// commit of sessions embedded in one process. First the same loop in one runtime alone.
func imageSessionFigures(sessions: Int, duration: Double) throws {
    guard let kernel = Runtime.locateKernel() else { fatalError("cannot find the kernel sources: set LO_KERNEL") }
    let path = directory + "/sessions.lo"
    let made = try Runtime(kernelDirectory: kernel)
    for k in 1...sessions { _ = try made.evaluate("Smalltalk at: #BenchCounter\(k) put: 0") }
    try made.commitImage(toPath: path, message: "kernel")
    let runtimes = try (1...sessions).map { _ in UncheckedRuntime(try Runtime(image: path)) }
    let stores = Set(runtimes.map { ObjectIdentifier($0.runtime.imageStore!) }).count
    @Sendable func loop(_ k: Int) -> String {
        """
        | n end | n := 0. end := Time millisecondClockValue + \(Int(duration * 1000)).
        [Time millisecondClockValue < end] whileTrue: [BenchCounter\(k) := n. System commit. n := n + 1].
        n
        """
    }
    let store = runtimes[0].runtime.imageStore!
    func run(_ count: Int) throws -> (rate: Double, cpu: Double, batching: Double) {
        let counts = Mutex<Int>(0), started = cpuMicroseconds(), before = store.groupCommitStatistics
        let time = try seconds {
            try runThreads(count) { index in
                let made = intValue(try runtimes[index].runtime.evaluate(loop(index + 1)))
                counts.withLock { $0 += made }
            }
        }
        let total = counts.withLock { $0 }, after = store.groupCommitStatistics
        return (Double(total) / time, Double(cpuMicroseconds() - started) / Double(total),
                Double(after.commits - before.commits) / Double(max(after.batches - before.batches, 1)))
    }
    let probe0 = measureFsyncRate(duration: 1)
    let one = try run(1)
    let probe1 = measureFsyncRate(duration: 1)
    let all = try run(sessions)
    let probe2 = measureFsyncRate(duration: 1)
    report("raw fsync rate (three probes)", String(format: "%.0f/s, %.0f/s, %.0f/s", probe0, probe1, probe2))
    report("1 runtime: System commit in a loop", String(format: "%.0f/s (%.2f× fsync), CPU %.0f µs per commit",
                                                       one.rate, one.rate / ((probe0 + probe1) / 2), one.cpu))
    report("\(sessions) runtimes of one process (\(stores) store\(stores == 1 ? "" : "s"))",
           String(format: "%.0f/s (%.2f× fsync), CPU %.0f µs per commit", all.rate, all.rate / ((probe1 + probe2) / 2), all.cpu)
           + (stores == 1 ? String(format: ", %.1f commits per transaction", all.batching) : ""))
}

/// A runtime handed to one thread of `runThreads` (each runtime is used by one thread at a time).
final class UncheckedRuntime: @unchecked Sendable {
    let runtime: Runtime
    init(_ runtime: Runtime) { self.runtime = runtime }
}
