// `lo`: evaluate, run scripts, a REPL and the SUnit runner, on an image or a freshly loaded kernel.

import ArgumentParser
import Foundation
import LivingObjects
import Store
import VMCore

struct KernelOptions: ParsableArguments {
    @Option(name: .long, help: "The kernel source directory (default: $LO_KERNEL or ./kernel).")
    var kernel: String?

    @Flag(name: .long, help: "Print bootstrap progress on stderr.")
    var verbose = false

    @Option(name: .long, help: "The most memory (MB, at least 64) objects may use: unchanged objects of the image are evicted as it fills, and programs that need more get OutOfMemory.")
    var heapLimit: Int = 4096

    @Option(name: .long, help: "The image to open ($LO_IMAGE, else ./living.image); made from the kernel if it does not exist.")
    var image: String?

    @Option(name: .long, help: ArgumentHelp("Open the image as it was at a commit id or checkpoint: read-only, nothing is committed.",
                                             valueName: "commit"))
    var asOf: String?

    /// The image eval, run and repl work in when neither --image nor LO_IMAGE names one.
    static let defaultImage = "living.image"

    /// The image named by --image or LO_IMAGE.
    var namedImage: String? { ImageOptions.named(image) }

    /// The image eval, run and repl open (and commit to).
    var imagePath: String { namedImage ?? KernelOptions.defaultImage }

    /// Opens the image at `path`, or makes it from the kernel and commits it there if it does not
    /// exist; with no path, a freshly bootstrapped kernel that is saved nowhere.
    func makeRuntime(image path: String?) throws -> Runtime {
        var config = VMConfiguration()
        guard heapLimit <= VMConfiguration.maximumHeapLimitBytes >> 20 else {
            throw ValidationError("--heap-limit is at most \(VMConfiguration.maximumHeapLimitBytes >> 20) MB")
        }
        config.heapLimitBytes = max(64, heapLimit) << 20
        let rt: Runtime
        if asOf != nil && path == nil { throw ValidationError("--as-of needs an image: --image PATH or LO_IMAGE") }
        if let path, let asOf {
            rt = try Runtime(image: path, asOf: ImageFile(path: path).commit(named: asOf), configuration: config)
        } else if let path, FileManager.default.fileExists(atPath: path) {
            rt = try Runtime(image: path, configuration: config)
        } else {
            if let path { Log.info("creating image \(path) from kernel …") }
            rt = try Runtime(kernelDirectory: kernel, configuration: config, progress: verbose ? { Log.info($0) } : nil)
            // A kernel that does not compile cleanly is always worth saying (methods would be missing).
            for d in rt.bootstrapDiagnostics { Log.info("warning: \(d)") }
            if let path { try rt.commitImage(toPath: path, message: "created from the kernel") }
        }
        Interrupts.install(rt)
        return rt
    }

    /// After an evaluation of a view of the past (`--as-of`) that changed objects: says that they
    /// were not committed (a view is read-only).
    func noteChangesNotCommitted(_ rt: Runtime) {
        guard rt.isImageReadOnly, rt.hasUncommittedChanges else { return }
        fflush(nil)  // the result first
        Log.info("note: the image is open as of \(asOf ?? "a past commit"), read-only: the changes were not committed")
    }
}

/// Whether eval, run and repl commit what they did to the image.
struct CommitOptions: ParsableArguments {
    @Flag(name: .long, help: "Do not commit changes to the image (a later session does not see them).")
    var noCommit = false
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
        // However the command ends (ArgumentParser exits on errors), an image let go of while its
        // background apply runs is closed first, so that its file holds every commit (a copy of the
        // file alone is then whole).
        atexit { SQLiteStore.awaitStoresClosed() }
        main(args)
    }
}

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate an expression and print the result's printString.",
        discussion: """
            A successful evaluation is committed to the image; a failed one commits nothing. As Pharo's \
            print-it, at most 50,000 characters of the result are printed (then '...'): printing a huge \
            or cyclic structure stops there.
            """)
    @OptionGroup var options: KernelOptions
    @OptionGroup var commits: CommitOptions
    @Argument(parsing: .allUnrecognized, help: "Smalltalk statements; the value of the last one is printed (may start with -).")
    var expression: [String]

    func validate() throws {
        if expression.isEmpty { throw ValidationError("give the statements to evaluate") }
    }

    func run() throws {
        let rt = try options.makeRuntime(image: options.imagePath)
        do {
            let source = expression.joined(separator: " ")
            let committing = !commits.noCommit && !rt.isImageReadOnly
            let s = try committing ? rt.evaluateAndCommit(source) : rt.evaluateAndPrint(source)
            if let code = rt.exitCode { throw ExitCode(Int32(code)) }
            try rt.flushTranscript()
            print(s)
            options.noteChangesNotCommitted(rt)
        } catch let e as RuntimeError {
            Output.report(e, rt)
            throw ExitCode(1)
        }
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "File in chunk or Tonel sources, or run plain statement scripts.",
        discussion: """
            Arguments after the files (following --) are available as `Smalltalk arguments`. Each problem \
            is reported on stderr as FILE:LINE[:COLUMN]: MESSAGE. When every file loaded and ran without an \
            error, the result is committed to the image; when a method did not compile, a definition or \
            a statement failed, the files after that one are not run, nothing is committed and the \
            exit status is 1.
            """)
    @OptionGroup var options: KernelOptions
    @OptionGroup var commits: CommitOptions
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
        let rt = try options.makeRuntime(image: options.imagePath)
        rt.vm.arguments = scriptArguments
        var failed = false
        let committing = !commits.noCommit && !rt.isImageReadOnly
        let openedAt = rt.imageCommit
        for file in files {
            let report = rt.fileIn(path: file)
            for d in report.diagnostics { Log.info("\(d)") }
            let notCompiled = report.methodsNotCompiled.count
            if notCompiled > 0 { Log.info("error: \(notCompiled) method\(notCompiled == 1 ? "" : "s") of \(file) did not compile") }
            if report.failed { failed = true; break }
            if rt.exitCode != nil { break }
        }
        if failed { Output.flush(rt) } else if !Output.flushed(rt) { failed = true }
        if failed && committing {
            Log.info(rt.imageCommit == openedAt ? "nothing was committed to \(options.imagePath)"
                : "what changed after the last commit the files made was not committed to \(options.imagePath)")
        }
        if !failed && committing {
            do { try rt.commitIfSucceeded(message: "run: \(files.joined(separator: " "))") } catch let e as RuntimeError {
                Output.report(e, rt)
                throw ExitCode(1)
            }
        }
        if !failed { options.noteChangesNotCommitted(rt) }
        // `Smalltalk quit: 0` after a failure does not hide it.
        if let code = rt.exitCode, code != 0 || !failed { throw ExitCode(Int32(code)) }
        if failed { throw ExitCode(1) }
    }
}

struct Test: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run SUnit tests: every TestCase, or the named classes and packages.",
        discussion: """
            Ends with the line `N passed, N failed`; exits non-zero if any test failed. Runs on a freshly \
            bootstrapped kernel unless --image or LO_IMAGE names an image; never commits to it.
            """)
    @OptionGroup var options: KernelOptions
    @Argument(help: "Test class names or package (category) names.") var names: [String] = []

    func run() throws {
        let rt = try options.makeRuntime(image: options.namedImage)
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
    /// Flushes Smalltalk's buffered Transcript when a command ends anyway (a failure is already being
    /// reported, or nothing is committed): a failing flush prints its own stack and changes nothing.
    static func flush(_ rt: Runtime) {
        try? rt.flushTranscript()
    }

    /// Flushes the Transcript after a success; if that fails, says so and answers false: what was
    /// written did not reach its reader, so the command failed.
    static func flushed(_ rt: Runtime) -> Bool {
        do { try rt.flushTranscript() } catch {
            Log.info("error: \(error)")
            return false
        }
        return true
    }

    /// Flushes (unless that is what failed), then says what went wrong (an unhandled error has already
    /// printed its stack).
    static func report(_ error: RuntimeError, _ rt: Runtime) {
        if case .transcriptNotFlushed = error {} else { flush(rt) }
        if case .unhandledError = error { return }
        Log.info("error: \(error)")
    }
}
