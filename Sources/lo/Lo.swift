// `lo`: evaluate, run scripts, a REPL and the SUnit runner, on a freshly loaded kernel or an image.

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

    @Option(name: .long, help: "The image to open ($LO_IMAGE); made from the kernel and saved there if it does not exist.")
    var image: String?

    @Option(name: .long, help: ArgumentHelp("Open the image as it was at a commit id or checkpoint: read-only, nothing is committed.",
                                             valueName: "commit"))
    var asOf: String?

    /// The image named by --image or LO_IMAGE; nil: bootstrap from the kernel and save nothing.
    var imagePath: String? { ImageOptions.path(image) }

    func validate() throws {
        if asOf != nil, imagePath == nil { throw ValidationError("--as-of needs an image: --image PATH or LO_IMAGE") }
    }

    func makeRuntime() throws -> Runtime {
        var config = VMConfiguration()
        config.heapLimitBytes = max(64, heapLimit) << 20
        let rt: Runtime
        if let path = imagePath, let asOf {
            rt = try Runtime(image: path, asOf: ImageFile(path: path).commit(named: asOf), configuration: config)
        } else if let path = imagePath, FileManager.default.fileExists(atPath: path) {
            rt = try Runtime(image: path, configuration: config)
        } else {
            if let path = imagePath { Log.info("creating image \(path) from kernel …") }
            rt = try Runtime(kernelDirectory: kernel, configuration: config, progress: verbose ? { Log.info($0) } : nil)
            // A kernel that does not compile cleanly is always worth saying (methods would be missing).
            for d in rt.bootstrapDiagnostics { Log.info("warning: \(d)") }
            if let path = imagePath { try rt.commitImage(toPath: path, message: "created from the kernel") }
        }
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
        subcommands: [Eval.self, Run.self, Repl.self, Test.self, Bench.self,
                      History.self, Rollback.self, CheckpointCommand.self, Backup.self, GC.self, Check.self])

    /// `lo --image PATH <subcommand> …` is accepted: the option moves after the subcommand's name.
    static func main() {
        var args = Array(CommandLine.arguments.dropFirst())
        var leading: [String] = []
        while let first = args.first {
            if first == "--image", args.count >= 2 { leading += args.prefix(2); args.removeFirst(2) }
            else if first.hasPrefix("--image=") { leading.append(first); args.removeFirst() }
            else { break }
        }
        if !leading.isEmpty, !args.isEmpty { args.insert(contentsOf: leading, at: 1) } else { args = leading + args }
        main(args)
    }
}

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Evaluate an expression and print the result's printString.")
    @OptionGroup var options: KernelOptions
    @Flag(name: .long, help: "With an image: do not commit the evaluation's changes to it.")
    var noCommit = false
    @Argument(parsing: .allUnrecognized, help: "Smalltalk statements; the value of the last one is printed (may start with -).")
    var expression: [String]

    func validate() throws {
        if expression.isEmpty { throw ValidationError("give the statements to evaluate") }
    }

    func run() throws {
        let rt = try options.makeRuntime()
        do {
            let source = expression.joined(separator: " ")
            let committing = options.imagePath != nil && !noCommit && !rt.isImageReadOnly
            let s = try committing ? rt.evaluateAndCommit(source) : rt.evaluateAndPrint(source)
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
