// `lo repl`: read statements (multi-line until brackets balance), evaluate, print; errors keep the session.

import ArgumentParser
import Foundation
import CEditLine
import LivingObjects

struct Repl: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "An interactive read-eval-print loop (also `lo open`; `lo open --as-of ID` looks at a past state, read-only).",
        discussion: """
            Statements continue over several lines until brackets, parentheses and quotes balance; an empty \
            line evaluates what was typed. `!!` repeats the previous input, `:history` lists it, `:quit` or \
            end of input leaves. Ctrl-C interrupts a running evaluation. Each successful evaluation is \
            committed to the image; what a failed one changed is undone (`System abort`).
            """,
        aliases: ["open"])
    @OptionGroup var options: KernelOptions
    @OptionGroup var commits: CommitOptions

    func run() throws {
        let rt = try options.makeRuntime(image: options.imagePath)
        var history: [String] = []
        let editor = LineEditor()
        var buffer = ""
        while true {
            guard let line = editor.read(prompt: buffer.isEmpty ? "lo> " : "... ") else { break }
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
            editor.remember(input)
            Interrupts.evaluating = true
            let commitsEachInput = !commits.noCommit && !rt.isImageReadOnly && rt.imageStore != nil
            var evaluated = false
            do {
                let s = try rt.evaluateAndPrint(input, workspace: true)
                evaluated = true
                if Output.flushed(rt) {
                    Swift.print(s)
                    if commitsEachInput { try rt.commitIfSucceeded(message: "repl: \(input.prefix(200))") }
                }
            } catch let e as RuntimeError {
                Output.report(e, rt)
                // What a failed input changed is not committed with the next one: it is undone, as a
                // failed `lo eval` leaves the image as it was. (A commit that conflicted keeps the changes,
                // for `System abort` and a retry.)
                if commitsEachInput && !evaluated {
                    do {
                        try rt.abortImage()
                        FileHandle.standardError.write(Data("(what the failed input changed since the last commit was undone: System abort)\n".utf8))
                    } catch let abortError as RuntimeError {
                        Output.report(abortError, rt)
                    }
                }
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

/// Reads lines with editing and a history kept in ~/.lo_history when standard input is a terminal.
final class LineEditor {
    private let interactive = isatty(0) != 0
    private let historyPath = (ProcessInfo.processInfo.environment["HOME"] ?? ".") + "/.lo_history"

    init() {
        if interactive { _ = read_history(historyPath) }
    }

    func read(prompt: String) -> String? {
        guard interactive else { return readLine() }
        guard let cLine = readline(prompt) else { return nil }
        defer { free(cLine) }
        return String(cString: cLine)
    }

    func remember(_ input: String) {
        guard interactive else { return }
        _ = add_history(input)
        _ = write_history(historyPath)
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
