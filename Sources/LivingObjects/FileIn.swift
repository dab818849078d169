// Loading source into a running image: Tonel packages and files, chunk file-ins, plain scripts.
// Every bad method is reported and the rest keeps loading; the report says that the load failed.

import Foundation
import SourceFormats
import VMCore

public struct FileInReport {
    /// Every problem, in the order found, with its file and line (and column, from the compiler).
    public var diagnostics: [Diagnostic] = []
    /// The methods that did not compile, each with its diagnostic (also in `diagnostics`).
    public var methodsNotCompiled: [(method: MethodDefinition, diagnostic: Diagnostic)] = []
    /// Something did not load: a method did not compile, a class definition, script or do-it ended
    /// with an error (an unhandled one printed its stack), or the file could not be read or parsed.
    /// What did load is in the image, uncommitted: a caller should not commit it.
    public var failed = false
}

extension Runtime {
    public func fileIn(path: String) -> FileInReport {
        var report = FileInReport()
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            report.diagnostics.append(Diagnostic(location: path, message: "no such file or directory"))
            report.failed = true
            return report
        }
        do {
            if isDirectory.boolValue {
                let package = try TonelReader.readPackage(directory: path)
                for c in package.classes { define(c, &report) }
                for m in package.methods { compileReporting(m, &report) }
                return report
            }
            guard let data = FileManager.default.contents(atPath: path) else {
                report.diagnostics.append(Diagnostic(location: path, message: "cannot read the file"))
                report.failed = true
                return report
            }
            let text = String(decoding: data, as: UTF8.self)
            if TonelReader.looksLikeTonel(text) {
                switch try TonelReader.parse(contents: text, file: path) {
                case .classDefinition(let c, let methods):
                    define(c, &report)
                    for m in methods { compileReporting(m, &report) }
                case .classExtension(_, let methods):
                    for m in methods { compileReporting(m, &report) }
                case .package:
                    break
                }
            } else if ChunkReader.looksLikeChunkFormat(text) {
                for item in try ChunkReader.parse(contents: text, file: path) {
                    switch item {
                    case .doIt(let source, let location):
                        if !run(source, at: location, &report) { return report }
                    case .methods(_, _, _, let methods):
                        for m in methods { compileReporting(m, &report) }
                    case .classComment(let className, let comment, let location):
                        let quoted = comment.replacingOccurrences(of: "'", with: "''")
                        _ = run("\(className) comment: '\(quoted)'", at: location, &report)
                    }
                }
            } else {
                _ = run(text, at: SourceLocation(file: path, line: 1), &report)
            }
        } catch {
            report.diagnostics.append(Diagnostic(location: error.location.description, message: error.message))
            report.failed = true
        }
        return report
    }

    /// Defines or redefines a class through Smalltalk's own class-definition messages.
    private func define(_ c: ClassDefinition, _ report: inout FileInReport) {
        _ = run(c.definitionMessage, at: c.location, &report)
        if let classSide = c.classSideDefinitionMessage { _ = run(classSide, at: c.location, &report) }
        if !c.comment.isEmpty {
            let quoted = c.comment.replacingOccurrences(of: "'", with: "''")
            _ = run("\(c.name) comment: '\(quoted)'", at: c.location, &report)
        }
    }

    private func compileReporting(_ m: MethodDefinition, _ report: inout FileInReport) {
        do {
            try compile(m.source, inClass: m.className, classSide: m.isClassSide, category: m.category, location: m.location)
        } catch {
            let d: Diagnostic
            if case RuntimeError.compile(let compileDiagnostic) = error { d = compileDiagnostic }
            else { d = Diagnostic(location: m.location.description, message: "\(error)") }
            report.diagnostics.append(d)
            report.methodsNotCompiled.append((m, d))
            report.failed = true
        }
    }

    /// Evaluates a do-it; answers false when it failed.
    private func run(_ source: String, at location: SourceLocation, _ report: inout FileInReport) -> Bool {
        switch vm.compileMethod(source, in: vm.root(.classUndefinedObject), kind: .doIt) {
        case .failure(let e):
            report.diagnostics.append(Runtime.diagnostic(e.description, at: location))
            report.failed = true
            return false
        case .success(let method):
            let globals = doItGlobals
            do {
                _ = try vm.run(method: method, receiver: vm.nilObj)
                for warning in undeclaredWarnings(globals) {
                    report.diagnostics.append(Diagnostic(location: location.description, message: "warning: \(warning)"))
                }
                return true
            } catch let e as VMError {
                if case .processTerminated = e {} else {
                    report.diagnostics.append(Diagnostic(location: location.description, message: e.description))
                }
                report.failed = true
                return false
            } catch {
                report.failed = true
                return false
            }
        }
    }
}
