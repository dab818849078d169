// Evaluating against an image: only a successful evaluation is committed.

import Store

extension Runtime {
    /// Whether the object space is a read-only view of an image's past (`Runtime(image:asOf:)`).
    public var isImageReadOnly: Bool { imageSession?.isReadOnly ?? false }

    /// Whether persistent objects differ from their committed records, or methods were compiled,
    /// since the last commit (or since a read-only view opened): what a commit would write.
    public var hasUncommittedChanges: Bool {
        guard let session = imageSession else { return false }
        return !session.pendingMethodVersions.isEmpty || !session.recordChanged(among: vm.changedObjects).isEmpty
    }

    /// The commit the object space was last opened at or committed as (nil without an image): a
    /// program that commits (`System commit`) moves it.
    public var imageCommit: CommitID? { imageSession?.base }

    /// Evaluates `source` and answers its printString. If it succeeded (and did not ask to quit with
    /// a non-zero code), the Transcript is flushed and the object space committed to its image; a
    /// failed evaluation throws and commits nothing, so the image keeps its last committed state.
    /// A read-only view commits nothing and throws before evaluating.
    public func evaluateAndCommit(_ source: String, workspace: Bool = false) throws -> String {
        guard let session = imageSession else { throw RuntimeError.image("this object space has no image to commit to") }
        try session.checkWritable(to: session.store.path)
        let printed = try evaluateAndPrint(source, workspace: workspace)
        try commitIfSucceeded(message: "eval: \(source.prefix(200))")
        return printed
    }

    /// Commits unless Smalltalk asked to quit with a non-zero code (which says it failed). The
    /// Transcript is flushed first; if that fails, nothing is committed.
    public func commitIfSucceeded(message: String) throws {
        guard (exitCode ?? 0) == 0 else { return }
        try flushTranscript()
        try commitImage(message: message)
    }

    /// Sends `Transcript flush`; if that fails (its error is reported as any other), throws
    /// `RuntimeError.transcriptNotFlushed`.
    public func flushTranscript() throws {
        do { _ = try evaluate("Transcript flush") } catch { throw RuntimeError.transcriptNotFlushed }
    }
}
