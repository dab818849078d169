// The embeddable API: a Runtime is one isolated Smalltalk object space with its kernel loaded.

import Compiler
import Foundation
import SourceFormats
import VMCore

public final class Runtime {
    public let vm: VM
    /// Problems met while loading the kernel (compile errors, failing class initializers).
    public internal(set) var bootstrapDiagnostics: [Diagnostic] = []
    var workspaceEvaluation = false
    /// The globals the last do-it compiled refers to (`undeclaredWarnings`).
    private(set) var doItGlobals: [String] = []
    /// The image this object space was opened from or last committed to (ImageSession.swift).
    var imageSession: ImageSession?

    /// Creates an object space and loads the kernel from its Tonel sources.
    public convenience init(kernelDirectory: String? = nil, configuration: VMConfiguration = VMConfiguration(),
                            progress: ((String) -> Void)? = nil) throws {
        guard let kernel = kernelDirectory ?? Runtime.locateKernel() else { throw RuntimeError.kernelNotFound }
        try self.init(emptyWith: configuration)
        try bootstrap(from: kernel, progress: progress)
    }

    /// An empty object space with the compiler, file-out and image hooks installed.
    init(emptyWith configuration: VMConfiguration) throws {
        var config = configuration
        if let mb = ProcessInfo.processInfo.environment["LO_EDEN_MB"].flatMap(Int.init) { config.edenBytes = mb << 20 }
        if let kb = ProcessInfo.processInfo.environment["LO_COPY_KB"].flatMap(UInt64.init) { config.scavengeCopyTargetBytes = kb << 10 }
        if let kb = ProcessInfo.processInfo.environment["LO_STACK_KB"].flatMap(Int.init) { config.stackWords = min(max(64, kb), 1 << 20) << 7 }
        vm = try VM(config: config)
        installCompiler()
        installImageHooks()
        vm.fileOut = { [unowned self] name, format, path in
            guard let f = SourceFormat(rawValue: format) else { return "unknown source format \(format): use #tonel or #chunk" }
            if self.vm.isImageFile?(path) == true { return "\(path) is the open image or one of its files" }
            do { try self.fileOut(package: name, format: f, to: path); return nil } catch { return "\(error)" }
        }
    }

    /// The kernel directory: $LO_KERNEL, or a `kernel` folder next to or above the executable or the
    /// current directory.
    public static func locateKernel() -> String? {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["LO_KERNEL"] { return env }
        var starts = [fm.currentDirectoryPath]
        if let exe = Bundle.main.executablePath { starts.append((exe as NSString).deletingLastPathComponent) }
        for start in starts {
            var dir = URL(fileURLWithPath: start)
            for _ in 0..<8 {
                let candidate = dir.appendingPathComponent("kernel")
                if fm.fileExists(atPath: candidate.appendingPathComponent("packages.txt").path) { return candidate.path }
                dir.deleteLastPathComponent()
            }
        }
        return nil
    }

    private func installCompiler() {
        vm.compiler = { [unowned self, unowned vm] source, cls, kind in
            let scope = ClassScope(className: vm.className(cls), instanceVariables: vm.allInstVarNames(cls),
                                   workspace: kind == .doIt && self.workspaceEvaluation)
            do throws(CompileError) {
                let d = kind == .doIt ? try SmalltalkCompiler.compileDoIt(source, in: scope)
                                      : try SmalltalkCompiler.compileMethod(source, in: scope)
                if kind == .method { self.recordMethodVersion(d, in: cls) } else { self.doItGlobals = Self.globals(in: d.literals) }
                return .success(d)
            } catch {
                return .failure(.compileError(error.description))
            }
        }
    }

    // MARK: Evaluating

    /// Compiles `source` as a do-it (receiver nil) and runs it; answers the result. With `workspace`,
    /// its variables persist between evaluations (as in a REPL or a Pharo playground).
    public func evaluate(_ source: String, workspace: Bool = false) throws -> Oop {
        let method: Oop
        workspaceEvaluation = workspace
        defer { workspaceEvaluation = false }
        switch vm.compileMethod(source, in: vm.root(.classUndefinedObject), kind: .doIt) {
        case .success(let m): method = m
        case .failure(let e): throw RuntimeError(e)
        }
        let globals = doItGlobals
        do {
            let result = try vm.run(method: method, receiver: vm.nilObj)
            for warning in undeclaredWarnings(globals) { vm.writeErr("warning: \(warning)\n") }
            return result
        } catch let e as VMError {
            throw RuntimeError(e)
        }
    }

    /// After a do-it ran: a warning for each global it refers to that is still undefined (a typo,
    /// or `Foo := 3` where `Smalltalk at: #Foo put: 3` was meant). It ran with those as nil, as in Pharo.
    func undeclaredWarnings(_ globals: [String]) -> [String] {
        var seen = Set<String>()
        return globals.filter { seen.insert($0).inserted && vm.isUndeclared($0) }.map {
            "undeclared variable '\($0)': it is not a global of Smalltalk (Smalltalk at: #\($0) put: … makes one)"
        }
    }

    private static func globals(in literals: [Literal]) -> [String] {
        var names: [String] = []
        for literal in literals {
            switch literal {
            case .binding(let name) where name.first?.isUppercase == true: names.append(name)
            case .block(let block): names += globals(in: block.literals)
            default: break
            }
        }
        return names
    }

    /// Evaluates and answers the result's printString, cut at `printLimit` characters.
    public func evaluateAndPrint(_ source: String, workspace: Bool = false) throws -> String {
        try printString(evaluate(source, workspace: workspace))
    }

    /// How much of a result `lo eval` and the REPL print, as Pharo's print-it: a huge (or cyclic)
    /// structure is cut there, followed by '...', and printing it stops there.
    public static let printLimit = 50_000

    /// The object's printString, cut at `printLimit` characters.
    public func printString(_ o: Oop) throws -> String {
        do {
            let s = try vm.send("printStringLimitedTo:", to: o, with: [intOop(Self.printLimit)])
            return vm.stringValue(s) ?? "<printString did not answer a String>"
        } catch let e as VMError { throw RuntimeError(e) }
    }

    /// Sends a message from Swift.
    public func send(_ selector: String, to receiver: Oop, with args: [Oop] = []) throws -> Oop {
        do { return try vm.send(selector, to: receiver, with: args) } catch let e as VMError { throw RuntimeError(e) }
    }

    /// The value of a global (nil if undefined).
    public func global(_ name: String) -> Oop? { vm.globalValue(name) }

    /// Set when Smalltalk asked to quit (`Smalltalk quit: code`).
    public var exitCode: Int? { vm.quitRequested }

    // MARK: Compiling into classes

    /// Compiles a method into a class (`isClassSide` for its metaclass) and installs it.
    @discardableResult
    public func compile(_ source: String, inClass className: String, classSide: Bool = false,
                        category: String = "as yet unclassified", location: SourceLocation? = nil) throws -> String {
        guard var cls = vm.globalValue(className), vm.isPointer(cls) else {
            throw RuntimeError.compile(Diagnostic(location: location?.description ?? "", message: "no class named \(className)"))
        }
        if classSide { cls = vm.classOf(cls) }
        switch vm.compileMethod(source, in: cls, kind: .method) {
        case .failure(let e):
            throw RuntimeError.compile(Runtime.diagnostic(e.description, at: location))
        case .success(let method):
            let h = vm.handle(method)
            defer { vm.releaseHandles(to: h) }
            let selector = vm.fetchSlot(method, CodeLayout.selector)
            vm.installMethod(method, selector: selector, in: cls)
            vm.classify(vm.fetchSlot(vm.handleValue(h), CodeLayout.selector), as: category, in: cls)
            return vm.stringValue(selector) ?? ""
        }
    }

    /// Maps a compiler message "line L, column C: text" into the file's coordinates.
    static func diagnostic(_ message: String, at location: SourceLocation?) -> Diagnostic {
        guard let location else { return Diagnostic(location: "", message: message) }
        let parts = message.split(separator: ":", maxSplits: 1)
        if parts.count == 2, parts[0].hasPrefix("line ") {
            let coords = parts[0].dropFirst(5).split(separator: ",")
            if let line = Int(coords[0].trimmingCharacters(in: .whitespaces)) {
                let column = coords.count > 1 ? Int(coords[1].replacingOccurrences(of: "column", with: "")
                                                           .trimmingCharacters(in: .whitespaces)) : nil
                let where_ = "\(location.file):\(location.line + line - 1)"
                    + (column.map { ":\(location.fileColumn($0, onSourceLine: line))" } ?? "")
                return Diagnostic(location: where_, message: parts[1].trimmingCharacters(in: .whitespaces))
            }
        }
        return Diagnostic(location: location.description, message: message)
    }
}
