// `lo`: evaluate, run scripts, a REPL and the SUnit runner, all on a freshly loaded kernel.

import ArgumentParser
import Foundation
import LivingObjects
import VMCore

struct KernelOptions: ParsableArguments {
    @Option(name: .long, help: "The kernel source directory (default: $LO_KERNEL or ./kernel).")
    var kernel: String?

    @Flag(name: .long, help: "Print bootstrap progress on stderr.")
    var verbose = false

    @Option(name: .long, help: "The most memory (MB) objects may use; beyond it programs get OutOfMemory.")
    var heapLimit: Int = 4096

    func makeRuntime() throws -> Runtime {
        var config = VMConfiguration()
        config.heapLimitBytes = max(64, heapLimit) << 20
        let rt = try Runtime(kernelDirectory: kernel, configuration: config, progress: verbose ? { Log.info($0) } : nil)
        // A kernel that does not compile cleanly is always worth saying (methods would be missing).
        for d in rt.bootstrapDiagnostics { Log.info("warning: \(d)") }
        Interrupts.install(rt)
        return rt
    }
}

enum Log {
    static func info(_ s: String) { FileHandle.standardError.write((s + "\n").data(using: .utf8)!) }
}

@main
struct Lo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lo",
        abstract: "Living Objects: a Smalltalk-80 platform.",
        subcommands: [Eval.self, Run.self, Repl.self, Test.self, Bench.self])
}

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Evaluate an expression and print the result's printString.")
    @OptionGroup var options: KernelOptions
    @Argument(parsing: .allUnrecognized, help: "Smalltalk statements; the value of the last one is printed (may start with -).")
    var expression: [String]

    func validate() throws {
        if expression.isEmpty { throw ValidationError("give the statements to evaluate") }
    }

    func run() throws {
        let rt = try options.makeRuntime()
        do {
            let s = try rt.evaluateAndPrint(expression.joined(separator: " "))
            if let code = rt.exitCode { throw ExitCode(Int32(code)) }
            Output.flush(rt)
            print(s)
        } catch let e as RuntimeError {
            Output.flush(rt)
            if case .unhandledError = e {} else { Log.info("error: \(e)") }
            throw ExitCode(1)
        }
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "File in chunk or Tonel sources, or run plain statement scripts.",
        discussion: "Arguments after the files (following --) are available as `Smalltalk arguments`.")
    @OptionGroup var options: KernelOptions
    @Argument(parsing: .captureForPassthrough,
              help: "Files (.st chunk or Tonel, or statements) and Tonel package directories, then -- and script arguments.")
    var arguments: [String]

    func validate() throws {
        if files.contains("--help") || files.contains("-h") { throw CleanExit.helpRequest(self) }
        if files.isEmpty { throw ValidationError("name at least one file to run") }
    }

    private var files: [String] { Array(arguments.prefix { $0 != "--" }) }
    private var scriptArguments: [String] { Array(arguments.drop { $0 != "--" }.dropFirst()) }

    func run() throws {
        let rt = try options.makeRuntime()
        rt.vm.arguments = scriptArguments
        var failed = false
        for file in files {
            let report = rt.fileIn(path: file)
            for d in report.diagnostics { Log.info("\(d)") }
            if report.failed { failed = true; break }
            if let code = rt.exitCode { Output.flush(rt); throw ExitCode(Int32(code)) }
        }
        Output.flush(rt)
        if failed { throw ExitCode(1) }
    }
}

struct Test: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run SUnit tests: every TestCase, or the named classes and packages.",
        discussion: "Ends with the line `N passed, N failed`; exits non-zero if any test failed.")
    @OptionGroup var options: KernelOptions
    @Argument(help: "Test class names or package (category) names.") var names: [String] = []

    func run() throws {
        let rt = try options.makeRuntime()
        let quoted = names.map { "'" + $0.replacingOccurrences(of: "'", with: "''") + "'" }.joined(separator: " ")
        let expression = names.isEmpty ? "TestRunner runAll" : "TestRunner runNames: #(\(quoted))"
        do {
            let failed = try rt.evaluateAndPrint(expression)
            Output.flush(rt)
            if failed != "0" { throw ExitCode(1) }
        } catch let e as RuntimeError {
            Output.flush(rt)
            Log.info("error: \(e)")
            throw ExitCode(1)
        }
    }
}

enum Output {
    /// Flushes Smalltalk's buffered Transcript, if it has one.
    static func flush(_ rt: Runtime) {
        _ = try? rt.evaluate("Transcript flush")
    }
}
