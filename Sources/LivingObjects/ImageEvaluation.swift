// Evaluating against an image: only a successful evaluation is committed.

extension Runtime {
    /// Evaluates `source` and answers its printString. If it succeeded (and did not ask to quit), the
    /// Transcript is flushed and the object space committed to its image; a failed evaluation throws
    /// and commits nothing, so the image keeps its last committed state.
    public func evaluateAndCommit(_ source: String) throws -> String {
        guard imageSession != nil else { throw RuntimeError.image("this object space has no image to commit to") }
        let printed = try evaluateAndPrint(source)
        guard exitCode == nil else { return printed }
        _ = try? evaluate("Transcript flush")
        try commitImage(message: "eval: \(source.prefix(200))")
        return printed
    }
}
