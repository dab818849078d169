// `lo repl`: read statements (multi-line until brackets balance), evaluate, print; errors keep the session.

import ArgumentParser
import Foundation
import LivingObjects

struct Repl: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "An interactive read-eval-print loop.",
        discussion: """
            Statements continue over several lines until brackets, parentheses and quotes balance; an empty \
            line evaluates what was typed. `!!` repeats the previous input, `:history` lists it, `:quit` or \
            end of input leaves. Ctrl-C interrupts a running evaluation.
            """)
    @OptionGroup var options: KernelOptions

    func run() throws {
        let rt = try options.makeRuntime()
        var history: [String] = []
        let interactive = isatty(0) != 0
        var buffer = ""
        while true {
            if interactive { FileHandle.standardOutput.write((buffer.isEmpty ? "lo> " : "... ").data(using: .utf8)!) }
            guard let line = readLine() else { break }
            if buffer.isEmpty {
                switch line.trimmingCharacters(in: .whitespaces) {
                case "": continue
                case ":quit", ":q": return
                case ":history":
                    for (i, h) in history.enumerated() { Swift.print("\(i + 1)  \(h)") }
                    continue
                default: break
                }
            }
            var input = line == "!!" ? (history.last ?? "") : line
            if !buffer.isEmpty { input = buffer + "\n" + input }
            if !line.isEmpty && !Repl.isComplete(input) { buffer = input; continue }
            buffer = ""
            history.append(input)
            Interrupts.evaluating = true
            do {
                let s = try rt.evaluateAndPrint(input, workspace: true)
                Output.flush(rt)
                Swift.print(s)
            } catch let e as RuntimeError {
                Output.flush(rt)
                if case .unhandledError = e {} else { Log.info("error: \(e)") }
            }
            Interrupts.evaluating = false
            if let code = rt.exitCode { throw ExitCode(Int32(code)) }
        }
    }

    /// Brackets, parentheses and braces balance outside strings and comments.
    static func isComplete(_ s: String) -> Bool {
        var depth = 0
        var inString = false, inComment = false
        var previous: Character = " "
        for c in s {
            if inString { if c == "'" { inString = false }; previous = c; continue }
            if inComment { if c == "\"" { inComment = false }; previous = c; continue }
            if previous == "$" { previous = " "; continue }
            switch c {
            case "'": inString = true
            case "\"": inComment = true
            case "[", "(", "{": depth += 1
            case "]", ")", "}": depth -= 1
            default: break
            }
            previous = c
        }
        return depth <= 0 && !inString && !inComment
    }
}

/// Ctrl-C sets the runtime's interrupt flag; Smalltalk then signals UserInterrupt in the running process.
enum Interrupts {
    nonisolated(unsafe) static var flag: UnsafeMutablePointer<Int32>? = nil
    nonisolated(unsafe) static var evaluating = true

    static func install(_ rt: Runtime) {
        flag = rt.vm.interruptFlag
        signal(SIGINT) { _ in
            if Interrupts.evaluating, let f = Interrupts.flag { f.pointee = 1 } else { _exit(130) }
        }
    }
}
