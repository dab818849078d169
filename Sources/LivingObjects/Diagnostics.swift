// Errors and diagnostics reported by the embeddable runtime.

import VMCore

/// A problem found while loading or compiling source, with where it is.
public struct Diagnostic: Error, CustomStringConvertible, Sendable {
    public var location: String
    public var message: String
    public init(location: String, message: String) { self.location = location; self.message = message }
    public var description: String { location.isEmpty ? message : "\(location): \(message)" }
}

public enum RuntimeError: Error, CustomStringConvertible {
    /// The source did not compile.
    case compile(Diagnostic)
    /// An error nobody handled; Smalltalk has already printed its stack on stderr.
    case unhandledError
    /// A program terminated the evaluation's process (`Process>>terminate`), with no error.
    case terminated
    /// Every process waits and nothing can wake them.
    case deadlock
    case kernelNotFound
    case bootstrap(String)
    case vm(VMError)
    /// An image file that cannot be opened or saved (not an image, damaged, made by another VM).
    case image(String)
    /// Another session committed changes to objects this commit also changed; nothing was written.
    case commitConflict(String)
    /// `Transcript flush` failed after an evaluation (its error is reported above it): what the
    /// evaluation wrote did not reach its reader, so it did not succeed and nothing was committed.
    case transcriptNotFlushed

    public var description: String {
        switch self {
        case .compile(let d): return d.description
        case .unhandledError: return "unhandled error"
        case .terminated: return VMError.terminated.description
        case .deadlock: return VMError.deadlock.description
        case .kernelNotFound: return "cannot find the kernel sources: set LO_KERNEL to the kernel directory"
        case .bootstrap(let m): return "bootstrap failed: \(m)"
        case .vm(let e): return e.description
        case .image(let m), .commitConflict(let m): return m
        case .transcriptNotFlushed: return "the Transcript could not be flushed; nothing was committed"
        }
    }

    init(_ e: VMError) {
        switch e {
        case .processTerminated: self = .unhandledError
        case .terminated: self = .terminated
        case .deadlock: self = .deadlock
        case .compileError(let m): self = .compile(Diagnostic(location: "", message: m))
        default: self = .vm(e)
        }
    }
}
