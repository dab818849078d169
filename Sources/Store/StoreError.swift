// What can go wrong in the store, as values: errors thrown, conflicts, and problems found by check().

import CSQLite
import Glibc

public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file is not a Living Objects store (another SQLite database, or not SQLite at all).
    case notAStore(path: String, reason: String)
    /// The file is one of ours but damaged (truncated, corrupt pages).
    case corrupt(path: String, detail: String)
    /// A store written by a newer version of this code.
    case unsupportedVersion(path: String, version: Int32)
    case fileNotFound(path: String)
    /// The disk (or the configured page limit) is full; nothing of the operation was written.
    case diskFull(path: String)
    /// Another process held the write lock past the busy timeout.
    case busy(path: String)
    case ioError(path: String, detail: String)
    /// Objects that do not exist as of the snapshot (never written, created later, or vacuumed).
    case objectsNotFound(oids: [UInt64], asOf: CommitID)
    case noSuchCommit(CommitID)
    /// A commit older than vacuum's window and not a named checkpoint: its snapshot is no longer whole.
    case snapshotReclaimed(CommitID)
    case invalidRequest(String)
    /// Another process has the store open in a way that excludes this open (an exclusive open).
    case inUse(path: String, detail: String)
    /// A gc (vacuum) ran after the commit's references were checked (`SQLiteStore.gcGeneration`):
    /// nothing was written; check them again, then commit.
    case collectedMeanwhile(path: String)
    case sqlite(path: String, code: Int32, message: String)

    init(sqliteCode rc: Int32, message: String, path: String) {
        switch rc & 0xff {
        case SQLITE_FULL: self = .diskFull(path: path)
        case SQLITE_BUSY, SQLITE_LOCKED: self = .busy(path: path)
        case SQLITE_CORRUPT: self = .corrupt(path: path, detail: message)
        case SQLITE_NOTADB: self = .notAStore(path: path, reason: "not an SQLite database (\(message))")
        case SQLITE_IOERR: self = .ioError(path: path, detail: message)
        case SQLITE_CANTOPEN where access(path, F_OK) == 0:
            // It exists: what cannot be opened or made is the file itself or one kept beside it.
            self = .ioError(path: path, detail: "cannot open it, or make the files kept beside it (-wal, -shm): "
                            + "is it or its directory read-only? (\(message))")
        case SQLITE_CANTOPEN: self = .fileNotFound(path: path)
        case SQLITE_READONLY:
            self = .ioError(path: path, detail: "it, or the directory it is in, cannot be written: the image needs both writable (\(message))")
        default: self = .sqlite(path: path, code: rc, message: message)
        }
    }

    public var isSnapshotReclaimed: Bool { if case .snapshotReclaimed = self { true } else { false } }

    public var description: String {
        switch self {
        case let .notAStore(path, reason): "\(path) is not a Living Objects store: \(reason)"
        case let .corrupt(path, detail): "\(path) is damaged: \(detail)"
        case let .unsupportedVersion(path, version): "\(path) has store format \(version), newer than this program reads"
        case let .fileNotFound(path): "\(path): no such store"
        case let .diskFull(path): "\(path): disk full; nothing was written (commits already acknowledged are kept, in the commit log if SQLite could not take them yet)"
        case let .busy(path): "\(path): the store is locked by another writer"
        case let .ioError(path, detail): "\(path): I/O error: \(detail)"
        case let .objectsNotFound(oids, asOf): "objects not found as of commit \(asOf.rawValue): \(oids.prefix(10).map(String.init))"
        case let .noSuchCommit(id): "no commit \(id.rawValue)"
        case let .snapshotReclaimed(id):
            "the state as of commit \(id.rawValue) was reclaimed by gc (it keeps the commits of its window and named checkpoints)"
        case let .invalidRequest(text): "invalid request: \(text)"
        case let .inUse(path, detail): "\(path) is in use: \(detail)"
        case let .collectedMeanwhile(path): "\(path) was collected (lo gc) after this commit's references were checked; nothing was written"
        case let .sqlite(path, code, message): "\(path): SQLite error \(code): \(message)"
        }
    }
}

/// A write-write conflict: since the commit's base, other commits wrote some of the same objects or roots.
/// Nothing was written; reload those objects as of the new head and retry.
public struct CommitConflict: Error, Equatable, Sendable, CustomStringConvertible {
    public let oids: [UInt64]
    public let roots: [String]
    /// A rollback committed after the request's base: it conflicts whatever the request writes.
    public let rollback: CommitID?

    public init(oids: [UInt64], roots: [String], rollback: CommitID? = nil) {
        self.oids = oids
        self.roots = roots
        self.rollback = rollback
    }

    public var description: String {
        if let rollback { return "commit conflict with the rollback committed as \(rollback.rawValue)" }
        return "commit conflict on objects \(oids.prefix(10).map(String.init))" + (roots.isEmpty ? "" : " and roots \(roots)")
    }
}

/// A finding of `SQLiteStore.check()`.
public struct Problem: Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case integrity, danglingReference, danglingRoot, commitMismatch, incompleteLargeBytes
        /// A record names a class shape that is not recorded, or has another number of slots.
        case shapeMismatch
        /// A record's class and OID are missing from the `instances` index.
        case instanceIndex
        /// The next OID to hand out is not above every stored object's (new objects would overwrite old ones).
        case oidCounter
    }

    public let kind: Kind
    public let detail: String

    public var description: String { "\(kind.rawValue): \(detail)" }
}
