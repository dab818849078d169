// An image file opened for its history (no object space loaded): commits, checkpoints, method versions.

import Foundation
import Store

/// An existing image, opened as a store only: what `lo history`, `rollback`, `checkpoint`, `backup`,
/// `gc` and `check` work on. Nothing here runs Smalltalk, so a broken image can still be repaired.
public struct ImageFile {
    public let path: String
    public let store: SQLiteStore

    /// Opens the image at `path`. A missing file is not created; a file that is not a store (or is
    /// damaged) throws `RuntimeError.image` and is left untouched.
    public init(path: String) throws {
        self.path = path
        store = try Self.openStore(path)
    }

    static func openStore(_ path: String) throws -> SQLiteStore {
        guard FileManager.default.fileExists(atPath: path) else { throw RuntimeError.image("\(path): no such image") }
        do { return try SQLiteStore.openShared(path: path) } catch { throw RuntimeError.image("cannot open image \(path): \(error)") }
    }

    /// The commit a reference names: a commit id (`12` or `#12`) or a checkpoint's name.
    public func commit(named reference: String) throws -> CommitID {
        if let id = Self.commitNumber(reference) {
            guard id < Int64.max, try store.commits(limit: 1, before: CommitID(id + 1)).first?.id == CommitID(id) else {
                throw RuntimeError.image("\(path) has no commit \(id)")
            }
            return CommitID(id)
        }
        guard let checkpoint = try checkpoint(named: reference) else {
            throw RuntimeError.image("\(path) has no commit or checkpoint named \(reference)")
        }
        return checkpoint.commit
    }

    /// The checkpoint named `name` as Swift compares strings ("café" composed or decomposed): the one
    /// spelled with the same bytes first (an image may hold both forms from before they were merged).
    private func checkpoint(named name: String) throws -> Checkpoint? {
        let all = try store.checkpoints()
        return all.first { $0.name.utf8.elementsEqual(name.utf8) } ?? all.first { $0.name == name }
    }

    /// The number of a reference that looks like a commit id (`12`, `#12`), or nil.
    static func commitNumber(_ reference: String) -> Int64? {
        Int64(reference.hasPrefix("#") ? String(reference.dropFirst()) : reference).flatMap { $0 > 0 ? $0 : nil }
    }

    // MARK: History

    /// A commit with the names of the checkpoints on it.
    public struct Entry: Sendable {
        public let commit: CommitInfo
        public let checkpoints: [String]
    }

    /// The newest commits first, at most `limit` (nil: all).
    public func history(limit: Int? = nil) throws -> [Entry] {
        let names = Dictionary(grouping: try store.checkpoints(), by: \.commit).mapValues { $0.map(\.name) }
        return try store.commits(limit: limit ?? Int(Int64.max)).map { Entry(commit: $0, checkpoints: names[$0.id] ?? []) }
    }

    /// The recorded versions of a method, newest first. `reference` is `Foo>>bar`, `Foo class>>bar`
    /// or `Foo>>#bar`; class-side methods are recorded under the class name `Foo class`.
    public func methodVersions(_ reference: String) throws -> [MethodVersion] {
        guard let (className, selector) = Self.parseMethod(reference) else {
            throw RuntimeError.image("\(reference) does not name a method: write Class>>selector or Class class>>selector")
        }
        return try store.methodVersions(className: className, selector: selector)
    }

    /// (class name, selector) of `Foo>>bar`, `Foo class >> #bar:`…, or nil.
    static func parseMethod(_ reference: String) -> (String, String)? {
        let parts = reference.components(separatedBy: ">>")
        guard parts.count == 2 else { return nil }
        let classWords = parts[0].split(separator: " ")
        var selector = parts[1].trimmingCharacters(in: .whitespaces)
        if selector.hasPrefix("#") { selector.removeFirst() }
        guard (classWords.count == 1 || classWords.count == 2 && classWords[1] == "class"),
              !selector.isEmpty, !selector.contains(where: \.isWhitespace) else { return nil }
        return (classWords.joined(separator: " "), selector)
    }

    // MARK: Checkpoints

    /// Names a commit (the head by default), replacing an earlier checkpoint of that name.
    @discardableResult
    public func checkpoint(_ name: String, at commit: CommitID? = nil) throws -> CommitID {
        try Self.checkCheckpointName(name)
        let target = try commit ?? store.headCommit()
        try store.checkpoint(name: name, commit: target)
        return target
    }

    /// Throws unless `name` can name a checkpoint: not blank, not padded, no control characters (it
    /// is printed in one line of `lo history`), and not read as a commit id by `--as-of` and `rollback`.
    static func checkCheckpointName(_ name: String) throws {
        guard !name.isEmpty, commitNumber(name) == nil, name.trimmingCharacters(in: .whitespaces) == name,
              !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw RuntimeError.image("\(name.debugDescription) cannot name a checkpoint: it would read as a commit id, is blank or holds control characters")
        }
    }

    /// Removes a checkpoint; answers the commit it named.
    @discardableResult
    public func removeCheckpoint(_ name: String) throws -> CommitID {
        guard let checkpoint = try checkpoint(named: name) else {
            throw RuntimeError.image("\(path) has no checkpoint named \(name)")
        }
        try store.removeCheckpoint(name: checkpoint.name)
        return checkpoint.commit
    }
}
