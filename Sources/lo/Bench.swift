// `lo bench`: runs the Are-We-Fast-Yet suite (bench/AWFY) and reports CPU-time medians per iteration.

import ArgumentParser
import Foundation
import LivingObjects
import VMCore

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run benchmarks: CPU-time median per iteration (µs) after warm-up, the result check, and the geometric mean.",
        discussion: """
            Benchmarks are the Benchmark subclasses of the suite folder (default: bench/AWFY next to the kernel). \
            Runs on a freshly bootstrapped kernel unless --image or LO_IMAGE names an image; never commits to it.
            """)
    @OptionGroup var options: KernelOptions
    @Argument(help: "Benchmark names (default: all).") var names: [String] = []
    @Option(name: .long, help: "Measured iterations per benchmark.") var iterations = 10
    @Option(name: .long, help: "Inner iterations (default: each benchmark's standard count).") var inner: Int?
    @Option(name: .long, help: "Warm-up iterations before measuring.") var warmup = 2
    @Option(name: .long, help: "The benchmark suite folder (a Tonel package).") var suite: String?
    @Flag(name: .long, help: "Only check every benchmark's result once at a small size (no timing).") var verify = false
    @Flag(name: .long, help: "Print the results as JSON.") var json = false
    @Flag(name: .long, help: "Count executed bytecodes, pairs and triples (slower) and print the commonest.") var stats = false
    @Option(name: .long, help: "How many of the commonest opcodes, pairs and triples --stats prints.") var statsLimit = 25

    func validate() throws {
        if iterations < 1 { throw ValidationError("--iterations must be at least 1") }
        if warmup < 0 { throw ValidationError("--warmup cannot be negative") }
        if let inner, inner < 1 { throw ValidationError("--inner must be at least 1") }
    }

    func run() throws {
        let rt = try options.makeRuntime(image: options.namedImage)
        guard let folder = suite ?? Bench.defaultSuite() else {
            throw ValidationError("cannot find bench/AWFY: name it with --suite")
        }
        let report = rt.fileIn(path: folder)
        for d in report.diagnostics { Log.info("\(d)") }
        if report.failed { throw ExitCode(1) }
        var selected = try rt.benchmarkNames()
        if !names.isEmpty {
            let unknown = names.filter { !selected.contains($0) }
            if !unknown.isEmpty { throw ValidationError("no benchmark named \(unknown.joined(separator: ", "))") }
            selected = names
        }
        rt.vm.collectBytecodeStatistics(stats)
        var rows: [BenchmarkRow] = []
        for name in selected {
            let innerCount = try inner ?? rt.innerIterations(of: name, selector: verify ? "verificationInnerIterations" : "standardInnerIterations")
            let row = try rt.measure(name, inner: innerCount, warmup: verify ? 0 : warmup, iterations: verify ? 1 : iterations)
            rows.append(row)
            if !json { print(row.line(timed: !verify)) }
        }
        let medians = rows.map { Double(max($0.medianMicroseconds, 1)) }
        let geomean = exp(medians.map { log($0) }.reduce(0, +) / Double(max(medians.count, 1)))
        let failed = rows.filter { !$0.verified }.count
        if json {
            let items = rows.map { "{\"name\":\"\($0.name)\",\"inner\":\($0.inner),\"medianMicroseconds\":\($0.medianMicroseconds),\"verified\":\($0.verified)}" }
            print("{\"benchmarks\":[\(items.joined(separator: ","))],\"geometricMeanMicroseconds\":\(Int(geomean))}")
        } else if verify {
            print("\(rows.count - failed) passed, \(failed) failed")
        } else {
            print(String(format: "geometric mean: %.0f µs over %d benchmarks; %d failed their check", geomean, rows.count, failed))
        }
        if let statistics = rt.vm.bytecodeStatistics { print(statistics.report(limit: statsLimit)) }
        if failed > 0 { throw ExitCode(1) }
    }

    static func defaultSuite() -> String? {
        guard let kernel = Runtime.locateKernel() else { return nil }
        let path = ((kernel as NSString).deletingLastPathComponent as NSString).appendingPathComponent("bench/AWFY")
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }
}

struct BenchmarkRow {
    var name: String
    var inner: Int
    var medianMicroseconds: Int
    var minMicroseconds: Int
    var verified: Bool

    func line(timed: Bool) -> String {
        let check = verified ? "ok" : "FAILED"
        if !timed { return "\(name.padding(toLength: 12, withPad: " ", startingAt: 0)) \(check)" }
        return "\(name.padding(toLength: 12, withPad: " ", startingAt: 0)) inner \(String(inner).padding(toLength: 7, withPad: " ", startingAt: 0)) median \(medianMicroseconds) µs  min \(minMicroseconds) µs  \(check)"
    }
}

extension Runtime {
    func benchmarkNames() throws -> [String] {
        let names = try evaluate("((Benchmark allSubclasses reject: [:c | c isAbstract]) collect: [:c | c name]) asArray")
        return (0..<vm.indexableSize(names)).compactMap { vm.stringValue(vm.fetchSlot(names, $0)) }.sorted()
    }

    func innerIterations(of name: String, selector: String) throws -> Int {
        let n = try evaluate("\(name) \(selector)")
        guard isSmallInt(n) else { throw ValidationError("\(name) \(selector) is not an integer") }
        return intValue(n)
    }

    /// CPU time (user + system) of the whole process, in microseconds.
    static func cpuMicroseconds() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1_000_000 + Int(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
    }

    func measure(_ name: String, inner: Int, warmup: Int, iterations: Int) throws -> BenchmarkRow {
        var times: [Int] = []
        var verified = true
        for i in 0..<(warmup + iterations) {
            let instance = try evaluate("\(name) new")
            let started = Runtime.cpuMicroseconds()
            let ok = try send("innerBenchmarkLoop:", to: instance, with: [intOop(inner)])
            let elapsed = Runtime.cpuMicroseconds() - started
            if ok != vm.trueObj { verified = false }
            if i >= warmup { times.append(elapsed) }
        }
        times.sort()
        return BenchmarkRow(name: name, inner: inner, medianMicroseconds: times[times.count / 2],
                            minMicroseconds: times.first ?? 0, verified: verified)
    }
}
