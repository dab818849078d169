// Commits, checkpoints and method versions: the store's history, as values.

import Foundation

/// A commit's number. Commit ids increase: a snapshot "as of" an id sees every commit up to it.
public struct CommitID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: Int64

    public init(rawValue: Int64) { self.rawValue = rawValue }
    public init(_ rawValue: Int64) { self.rawValue = rawValue }

    public static func < (lhs: CommitID, rhs: CommitID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { "#\(rawValue)" }
}

public struct CommitInfo: Equatable, Sendable {
    public let id: CommitID
    public let time: Date
    public let author: String
    public let message: String
    /// How many object versions the commit wrote.
    public let objectCount: Int
}

public struct Checkpoint: Equatable, Sendable {
    public let name: String
    public let commit: CommitID
    public let time: Date
}

/// A method's source as compiled in a commit (input to `commit`).
public struct MethodChange: Equatable, Sendable {
    public var className: String
    public var classOID: UInt64?
    public var selector: String
    public var category: String?
    public var source: String

    public init(className: String, classOID: UInt64? = nil, selector: String, category: String? = nil, source: String) {
        self.className = className
        self.classOID = classOID
        self.selector = selector
        self.category = category
        self.source = source
    }
}

/// One recorded version of a method, with the commit that recorded it.
public struct MethodVersion: Equatable, Sendable {
    public let method: MethodChange
    public let author: String
    public let time: Date
    public let commit: CommitID
}
