// The store on one SQLite file: opening, the connection pools, OID allocation and reading objects.

import CSQLite
import Foundation
import Synchronization

/// A Living Objects image store in one SQLite file (WAL; `synchronous=NORMAL` and a sync of the WAL
/// after every transaction, outside SQLite's write lock: WALSync.swift).
///
/// One instance per process and file is enough: it is `Sendable`, and every method may be called from
/// any thread. Reads take a connection from a pool; writes go through one writer connection, and
/// concurrent commits are grouped into one SQLite transaction (one fsync). Several processes may open
/// the same file: SQLite's locks serialise their writers.
///
/// A session's snapshot is just a `CommitID`: reads take it as `asOf:`, commits as `base:`.
public final class SQLiteStore: Sendable {
    public let path: String
    /// Byte objects longer than this are stored out of line, in chunks (`LargeBytes`).
    public static let largeBytesThreshold = 64 * 1024
    static let chunkSize = 256 * 1024

    let writer: Mutex<Connection>
    let walSync: WALSync
    private let idleReaders = Mutex<[Connection]>([])
    /// The read transaction each thread's reads share, while it has one (ConsistentReads.swift).
    let pinnedReaders = Mutex<[UInt: Connection]>([:])
    let pinnedReaderCount = Atomic<Int>(0)
    let commitQueue = CommitQueue()
    /// Whether a check to let go of the writer's held snapshot is scheduled (Commit.swift).
    let snapshotReleaseScheduled = Atomic<Bool>(false)
    /// The commit log of a store opened exclusively (LogCommits.swift); set only while opening.
    nonisolated(unsafe) private(set) var exclusiveLog: ExclusiveLog?
    /// The commit log shared by processes (SharedLogCommits.swift); set only while opening.
    nonisolated(unsafe) private(set) var sharedLog: SharedLog?
    /// Where logged commits are applied to SQLite, one apply at a time.
    let applyQueue = DispatchQueue(label: "store.apply-log")

    private init(path: String, writer: Connection, walSync: WALSync) {
        self.path = path
        self.writer = Mutex(writer)
        self.walSync = walSync
        applyQueue.setSpecific(key: Self.applyQueueKey, value: ObjectIdentifier(applyQueue))
        StoresOfThisProcess.all.opened(path)
    }

    deinit {
        closeLog()
        if sharedLog != nil { StoresOfThisProcess.sharingTheLog.closed(path) }
        // The shared page's file is removed when the last process lets go of it: before the store
        // counts as closed, since a process may exit as soon as it does.
        sharedLog = nil
        walSync.closeGroup()
        // The connections close before the store counts as closed (`awaitStoresClosed`): the last to
        // close moves SQLite's WAL into the file.
        idleReaders.withLock { $0.removeAll() }
        writer.withLock { $0.close() }
        StoresOfThisProcess.all.closed(path)
    }

    /// Whether stores are opened exclusively unless said otherwise: `LO_EXCLUSIVE=1` in the environment.
    public static var exclusiveByDefault: Bool { ProcessInfo.processInfo.environment["LO_EXCLUSIVE"] == "1" }

    /// Whether processes commit through the shared commit log unless said otherwise: yes, unless the
    /// environment has `LO_SHARED_LOG=0` (then every commit is its own SQLite transaction and WAL sync).
    public static var sharedLogByDefault: Bool { ProcessInfo.processInfo.environment["LO_SHARED_LOG"] != "0" }

    /// Opens the store at `path`; with `create`, makes a new store if the file is absent or empty.
    /// A file that is not a store (or is damaged) throws `StoreError` and is left untouched.
    /// `exclusive`: this process alone has the store open, and commits go through the commit log
    /// (Docs/Store.md "The commit log"); an open that another process's open excludes throws `inUse`.
    /// `sharedLog` (not exclusive; the default unless `LO_SHARED_LOG=0`): commits go through the commit
    /// log shared by every process that opens the store so; every process must open it the same way
    /// (else `inUse`). Without it, each commit is its own SQLite transaction and WAL sync.
    public static func open(path: String, create: Bool = false, exclusive: Bool = exclusiveByDefault,
                            sharedLog: Bool = sharedLogByDefault) throws -> SQLiteStore {
        // Opened by the file a symlink names, which SQLite names its WAL after: so is the commit log.
        let path = StoreFiles.followingSymlinks(path)
        // Another process may be closing, or replaying a log alone, for a moment; a store of this
        // process that shared the log may be closing for longer (its background apply ends first).
        let deadline = Date() + 2, closingDeadline = Date() + 30
        while true {
            do {
                return try openOnce(path: path, create: create, exclusive: exclusive, sharedLog: sharedLog)
            } catch is NoSharedLogToJoin {
                // Opened afresh, not retried on the same connections: while a connection of this process
                // holds a lock on the file (in WAL mode, from its first read until it closes), SQLite
                // keeps the descriptors of this process's closed connections open, and with them their
                // stores' `flock`s (StoreLock.swift). Letting go of this attempt's lets those close.
                let now = Date()
                guard now < deadline || (now < closingDeadline && StoresOfThisProcess.sharingTheLog.mayHold(path)) else {
                    throw StoreError.inUse(path: path, detail: "other processes have it open and commit without the shared commit log (LO_SHARED_LOG=0 in every process, or in none)")
                }
                usleep(2000)
            }
        }
    }

    /// Thrown by an open with the shared log that found the store open without it, or the log being
    /// removed by the last store that shared it: the open is tried again.
    private struct NoSharedLogToJoin: Error {}

    private static func openOnce(path: String, create: Bool, exclusive: Bool, sharedLog: Bool) throws -> SQLiteStore {
        let exists = FileManager.default.fileExists(atPath: path)
        if exists {
            try StoreFiles.refuseHardLinks(path)
            try Schema.inspect(path: path)
        } else if !create {
            throw StoreError.fileNotFound(path: path)
        }
        let flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0)
        let writer = try Connection(path: path, flags: flags)
        let lock = try StoreLock.take(writer, path: path, exclusive: exclusive)
        // An open that fails lets go of its lock itself: SQLite may keep the descriptor open after the
        // connection closes (see `open`), and the lock with it.
        var opened = false
        defer { if !opened { flock(lock.descriptor, LOCK_UN) } }
        try Schema.configure(writer, readOnly: false)
        let walSync = WALSync(databasePath: path)
        writer.walSync = walSync
        let found = try Schema.verify(writer)
        if !found.isStore {
            guard create else { throw StoreError.notAStore(path: path, reason: "an empty database") }
            try Schema.initialize(writer)
        } else if found.needsUpgrade {
            try Schema.upgrade(writer)
        }
        let store = SQLiteStore(path: path, writer: writer, walSync: walSync)
        try store.validateSchema(writer)
        try writer.execute("PRAGMA synchronous = NORMAL")  // in WAL mode only: see WALSync
        writer.installCheckpointHook()
        if exclusive || lock.alone { try store.refuseIfLogMissing() }
        if exclusive {
            let (log, head) = try store.replayLog(creatingWith: Int64(getpid()))
            try log.reset(base: head, holder: Int64(getpid()))
            try store.markLogInUse()
            store.exclusiveLog = ExclusiveLog(log, head: head)
        } else if sharedLog {
            guard let shared = try store.openSharedLog(alone: lock.alone) else { throw NoSharedLogToJoin() }
            store.sharedLog = shared
            StoresOfThisProcess.sharingTheLog.opened(path)
            if lock.alone { try StoreLock.share(lock.descriptor, path: path) }
        } else if !lock.alone {
            try StoreLock.refuseSharedLog(path: path)
        } else {
            if FileManager.default.fileExists(atPath: path + "-log") {
                _ = try store.replayLog(creatingWith: 0)
                try store.clearLogInUse()
                unlink(path + "-log")
            }
            try StoreLock.share(lock.descriptor, path: path)
        }
        opened = true
        return store
    }

    private func validateSchema(_ connection: Connection) throws {
        try connection.execute("PRAGMA journal_mode = WAL")
        let tables = try connection.integer(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('meta', 'commits', 'objects', 'long_contents', 'roots', 'checkpoints', 'methods', 'large_bytes', 'chunks', 'shapes', 'instances')")
        guard tables == 11, try connection.integer("SELECT max(id) FROM commits") != nil else {
            throw StoreError.corrupt(path: path, detail: "tables of the store are missing")
        }
    }

    // MARK: Connections

    func withReader<T>(_ body: (Connection) throws -> T) throws -> T {
        if let pinned = pinnedReader() { return try body(pinned) }
        let connection = try takeReader()
        defer { giveBack(connection) }
        try connection.run(.begin)
        defer { connection.rollbackQuietly() }
        return try body(connection)
    }

    func takeReader() throws -> Connection {
        try idleReaders.withLock { $0.popLast() } ?? openReader()
    }

    func giveBack(_ reader: Connection) {
        idleReaders.withLock { if $0.count < 16 { $0.append(reader) } }
    }

    private func openReader() throws -> Connection {
        let connection = try Connection(path: path, flags: SQLITE_OPEN_READWRITE)
        try Schema.configure(connection, readOnly: true)
        return connection
    }

    /// Runs `body` with the writer connection, in one `BEGIN IMMEDIATE` transaction.
    func write<T: Sendable>(_ body: (Connection) throws -> T) throws -> T {
        try writer.withLock { connection in
            try connection.transaction(immediate: true) { try body(connection) }
        }
    }

    // MARK: OIDs and snapshots

    /// Hands out `count` fresh OIDs, never handed out before (by any process).
    public func allocateOIDs(count: Int) throws -> Range<UInt64> {
        guard count > 0, count <= 1 << 40 else { throw StoreError.invalidRequest("cannot allocate \(count) OIDs") }
        return try write { connection in
            let first = try connection.integer("SELECT value FROM meta WHERE key = 'next_oid'") ?? 1
            // A damaged counter must not hand out OIDs of existing objects (their commits would be overwritten).
            let highest = try connection.integer("SELECT max(oid) FROM objects") ?? 0
            guard first >= 1, first > highest, UInt64(first) < StoredObject.maximumOID else {
                throw StoreError.corrupt(path: path, detail: "the next OID is \(first), the highest OID stored \(highest)")
            }
            let end = UInt64(first) + UInt64(count)
            guard end <= StoredObject.maximumOID else { throw StoreError.invalidRequest("OIDs exhausted") }
            let update = try connection.statement("UPDATE meta SET value = ? WHERE key = 'next_oid'")
            update.bind(1, end)
            try update.run()
            return UInt64(first)..<end
        }
    }

    /// The newest commit: a fresh session's snapshot.
    public func headCommit() throws -> CommitID {
        if let exclusiveLog { return exclusiveLog.durableHead }
        if let sharedLog { return sharedLog.durableHead }
        return try withReader { try Self.head($0) }
    }

    static func head(_ connection: Connection) throws -> CommitID {
        CommitID(try connection.integer(.head) ?? 0)
    }

    // MARK: Reading objects

    /// The objects as of `snapshot`, in the order asked; throws `objectsNotFound` naming every missing one.
    public func load(oids: [UInt64], asOf snapshot: CommitID) throws -> [StoredObject] {
        let found = try records(of: oids, asOf: snapshot)
        var byOID: [UInt64: StoredObject] = [:]
        byOID.reserveCapacity(found.count)
        for object in found { byOID[object.oid] = object }
        var objects: [StoredObject] = [], missing: [UInt64] = []
        objects.reserveCapacity(oids.count)
        for oid in oids {
            if let object = byOID[oid] { objects.append(object) } else { missing.append(oid) }
        }
        guard missing.isEmpty else { throw StoreError.objectsNotFound(oids: missing, asOf: snapshot) }
        return objects
    }

    /// One object as of `snapshot`, or nil if it does not exist then.
    public func load(oid: UInt64, asOf snapshot: CommitID) throws -> StoredObject? {
        try records(of: [oid], asOf: snapshot).first
    }

    /// The objects among `oids` that exist as of `snapshot`, in OID order (the others are left out).
    /// One read transaction; runs of nearby OIDs are read with one range scan each, others one seek each.
    public func records(of oids: [UInt64], asOf snapshot: CommitID) throws -> [StoredObject] {
        let readable = try readableSnapshot(of: oids, snapshot)
        return try withReader { connection in
            try Self.scanNewest(oids, asOf: readable, contents: true, connection) { oid, header, contents in
                try decode(oid: oid, commit: snapshot, header: header, contents: contents)
            }
        }
    }

    /// The headers of the objects among `oids` that exist as of `snapshot`, in OID order, read without
    /// their contents (see `records(of:asOf:)` for how the batch is read).
    public func headers(of oids: [UInt64], asOf snapshot: CommitID) throws -> [StoredHeader] {
        let readable = try readableSnapshot(of: oids, snapshot)
        return try withReader { connection in
            try Self.scanNewest(oids, asOf: readable, contents: false, connection) { oid, bytes, _ in
                guard let (header, length) = RecordCoding.decodeHeader(oid: oid, bytes), length == bytes.count else {
                    throw StoreError.corrupt(path: path, detail: "the header of object \(oid) as of \(snapshot) cannot be decoded")
                }
                return header
            }
        }
    }

    /// Of a snapshot vacuum thinned out (before its horizon, not a checkpoint), only the objects not
    /// written between it and the horizon read as they were: vacuum kept the version each had at the
    /// horizon, which is then the one it had at the snapshot. For the others the version the snapshot
    /// saw may be gone, and an older one would be read, or none: `snapshotReclaimed` instead.
    private static func checkNotThinnedOut(_ oids: [UInt64], asOf snapshot: CommitID, _ connection: Connection) throws {
        let horizon = try Self.horizon(connection)
        let probe = try connection.statement("SELECT 1 FROM objects WHERE oid = ? AND commit_id > ? AND commit_id <= ? LIMIT 1")
        for oid in oids {
            probe.reset()
            probe.bind(1, oid)
            probe.bind(2, snapshot.rawValue)
            probe.bind(3, horizon.rawValue)
            if try probe.step() { throw StoreError.snapshotReclaimed(snapshot) }
        }
        probe.reset()
    }

    /// Reads the newest version as of `snapshot` of each OID of `oids` that exists then, ascending:
    /// `decode` gets the OID, its header and (with `contents`) its contents. A run of consecutive OIDs is
    /// read with one range scan (which reads no other object); the others with one seek each.
    private static func scanNewest<T>(_ oids: [UInt64], asOf snapshot: CommitID, contents: Bool, _ connection: Connection,
                                      decode: (UInt64, UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> T) throws -> [T] {
        if try !isIntact(snapshot, connection) { try checkNotThinnedOut(oids, asOf: snapshot, connection) }
        let ascending = zip(oids, oids.dropFirst()).allSatisfy { $0 < $1 }
        let sorted = ascending ? oids : Array(Set(oids)).sorted()
        var found: [T] = []
        found.reserveCapacity(sorted.count)
        let columns = contents ? "header, contents" : "header"
        let seek = try connection.statement(
            "SELECT oid, \(columns) FROM objects WHERE oid = ? AND commit_id <= ? ORDER BY commit_id DESC LIMIT 1")
        let range = try connection.statement(
            "SELECT oid, \(columns) FROM objects WHERE oid >= ? AND oid <= ? AND commit_id <= ? ORDER BY oid, commit_id")
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        var i = 0
        while i < sorted.count {
            var end = i + 1
            while end < sorted.count && sorted[end] == sorted[end - 1] + 1 { end += 1 }
            if end - i >= minimumRun {
                range.reset()
                range.bind(1, sorted[i])
                range.bind(2, sorted[end - 1])
                range.bind(3, snapshot.rawValue)
                // Versions come oldest first: a newer one replaces the one before.
                var last: UInt64? = nil
                while try range.step() {
                    let oid = range.uint64(0)
                    let value = contents ? try withContents(range, column: 2, connection) { try decode(oid, range.blob(1), $0) }
                                         : try decode(oid, range.blob(1), empty)
                    if oid == last { found[found.count - 1] = value } else { found.append(value) }
                    last = oid
                }
                range.reset()
            } else {
                for oid in sorted[i..<end] {
                    seek.reset()
                    seek.bind(1, oid)
                    seek.bind(2, snapshot.rawValue)
                    guard try seek.step() else { continue }
                    if contents {
                        found.append(try withContents(seek, column: 2, connection) { try decode(oid, seek.blob(1), $0) })
                    } else {
                        found.append(try decode(oid, seek.blob(1), empty))
                    }
                }
                seek.reset()
            }
            i = end
        }
        return found
    }

    /// Runs of at least this many consecutive OIDs are read with a range scan.
    private static let minimumRun = 8

    /// Prefetch: up to `limit` objects existing as of `snapshot` whose OIDs are ≥ `oid`, in OID order.
    /// Objects created together have consecutive OIDs, so this loads a cluster in one range scan.
    public func loadCluster(startingAt oid: UInt64, limit: Int, asOf snapshot: CommitID) throws -> [StoredObject] {
        try awaitApplied(snapshot)
        return try withReader { connection in
            let query = try connection.statement(
                "SELECT oid, header, contents FROM objects WHERE oid >= ? AND commit_id <= ? ORDER BY oid, commit_id")
            query.bind(1, oid)
            query.bind(2, snapshot.rawValue)
            var objects: [StoredObject] = []
            objects.reserveCapacity(min(limit, 1 << 16))
            while try query.step() {
                let rowOID = query.uint64(0)
                let object = try Self.withContents(query, column: 2, connection) {
                    try decode(oid: rowOID, commit: snapshot, header: query.blob(1), contents: $0)
                }
                if let last = objects.last, last.oid == rowOID {
                    objects[objects.count - 1] = object  // a newer version of the same object
                } else if objects.count == limit {
                    break
                } else {
                    objects.append(object)
                }
            }
            query.reset()
            return objects
        }
    }

    func decode(oid: UInt64, commit: CommitID, header: UnsafeRawBufferPointer, contents: UnsafeRawBufferPointer) throws -> StoredObject {
        guard let object = RecordCoding.decode(oid: oid, header: header, contents: contents) else {
            throw StoreError.corrupt(path: path, detail: "the record of object \(oid) as of \(commit) cannot be decoded")
        }
        return object
    }

    // MARK: Roots

    /// The object a named root refers to as of `snapshot`.
    public func root(named name: String, asOf snapshot: CommitID) throws -> UInt64? {
        try awaitApplied(snapshot)
        return try withReader { connection in
            let query = try connection.statement(
                "SELECT oid FROM roots WHERE name = ? AND commit_id <= ? ORDER BY commit_id DESC LIMIT 1")
            query.bind(1, name)
            query.bind(2, snapshot.rawValue)
            guard try query.step(), !query.isNull(0) else { return nil }
            return query.uint64(0)
        }
    }

    /// Every named root as of `snapshot`.
    public func roots(asOf snapshot: CommitID) throws -> [String: UInt64] {
        try awaitApplied(snapshot)
        return try withReader { try Self.roots($0, asOf: snapshot) }
    }

    static func roots(_ connection: Connection, asOf snapshot: CommitID) throws -> [String: UInt64] {
        let query = try connection.statement("SELECT name, oid FROM roots WHERE commit_id <= ? ORDER BY name, commit_id")
        query.bind(1, snapshot.rawValue)
        var roots: [String: UInt64] = [:]
        while try query.step() {
            roots[query.string(0)] = query.isNull(1) ? nil : query.uint64(1)
        }
        return roots
    }
}
