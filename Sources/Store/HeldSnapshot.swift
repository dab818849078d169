// The writer keeps its read transaction open from one commit to the next.
//
// In WAL mode BEGIN IMMEDIATE first starts a read transaction: a shared lock on a read mark of the
// WAL-index, and, because the connection's own last commit moved the WAL's end past every mark, first
// an exclusive lock to move a mark and its unlock. Then the write lock; COMMIT releases both. Six
// `fcntl` calls per commit, about as much time as SQLite's own work for a one-object commit.
//
// A statement left unfinished keeps the connection's read transaction open through COMMIT, on the
// snapshot that commit made. The next BEGIN IMMEDIATE only upgrades it: the write lock, and its
// release at COMMIT. If anyone else committed meanwhile, that snapshot is no longer the newest and
// SQLite refuses the upgrade at once (SQLITE_BUSY_SNAPSHOT); if another connection holds the write
// lock, it refuses too, without waiting (no busy handler while a read transaction is open). Either way
// the writer lets go and begins afresh, waiting as before; and beginning afresh is what tells the
// CommitCache that someone else wrote (SQLite's data version).
//
// A held read transaction pins its read mark: checkpoints copy no frame past it, and the WAL cannot
// restart from its beginning. So the writer lets go
// - before any other use of its connection (other transactions, statements run outside one);
// - when a commit has brought the WAL to the checkpoint size: it then checkpoints (WALRestart.swift;
//   the wal hook below replaces SQLite's autocheckpoint);
// - from nine tenths of the checkpoint size on, until the WAL has restarted: a commit then holds
//   nothing, so that the checkpoint another process runs at the checkpoint size, which waits for every
//   reader, does not wait for this one's next commit (for its WAL sync first);
// - when no commit came for 50 ms (`SQLiteStore.releaseSnapshotWhenIdle`), so that an idle store does
//   not hold up the checkpoints of another process for long.
// And it holds none while other processes commit (WriterTurn.swift tells): their commits would make
// it stale before the next BEGIN, which SQLite would then refuse.

import CSQLite
import Dispatch

struct HeldSnapshot {
    /// Kept unfinished while the snapshot is held (prepared on first use).
    fileprivate var statement: Statement?
    fileprivate var isHeld = false
    /// Frames in the WAL after the last transaction committed on this connection (the wal hook).
    fileprivate var walFrames: Int32 = 0
    /// When the last commit that left the snapshot held finished (uptime nanoseconds).
    fileprivate var lastCommit: UInt64 = 0
    /// Other writers are committing (WriterTurn.swift): a snapshot held would be stale by the next commit.
    fileprivate var othersWrite = false
    /// BEGIN IMMEDIATEs that found the held snapshot stale (or another writing), and began afresh.
    fileprivate(set) var staleBegins = 0

    /// SQLite's autocheckpoint size, in frames.
    static let checkpointFrames: Int32 = 1000
    /// From this size of the WAL on, in frames, commits hold no snapshot.
    static let holdFrames: Int32 = checkpointFrames - checkpointFrames / 10
    /// How long a snapshot is held after the last commit (and how often, while commits keep coming,
    /// a timer looks whether they have stopped).
    fileprivate static let idleMilliseconds = 50
    static let idleRelease: DispatchTimeInterval = .milliseconds(idleMilliseconds)
    fileprivate static let idleNanoseconds = UInt64(idleMilliseconds) * 1_000_000
}

extension Connection {
    var holdsSnapshot: Bool { heldSnapshot.isHeld }

    /// Replaces SQLite's autocheckpoint with a hook that checkpoints once a commit has brought the WAL to
    /// 1000 frames (WALRestart.swift), unless the snapshot is held; `checkpointIfDue` then does it.
    func installCheckpointHook() {
        sqlite3_wal_hook(raw, { context, _, _, frames in
            let connection = Unmanaged<Connection>.fromOpaque(context!).takeUnretainedValue()
            connection.heldSnapshot.walFrames = frames
            if frames >= HeldSnapshot.checkpointFrames && !connection.heldSnapshot.isHeld {
                connection.checkpointWAL()
            }
            return SQLITE_OK
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    /// BEGIN IMMEDIATE: from the held snapshot if it is still the newest and nobody else is writing;
    /// otherwise after letting it go (then SQLite waits for the write lock as usual).
    func beginImmediate() throws(StoreError) {
        if heldSnapshot.isHeld {
            do throws(StoreError) {
                try run(.beginImmediate)
                return
            } catch {
                heldSnapshot.staleBegins += 1
                releaseSnapshot()
                if isInTransaction { try? run(.rollback) }
            }
        }
        try run(.beginImmediate)
    }

    /// Before a commit's transaction, in the writers' turn: whether others commit too. If so, the held
    /// snapshot is let go (BEGIN IMMEDIATE would refuse it) and none is held after this commit.
    func othersWrite(_ others: Bool) {
        heldSnapshot.othersWrite = others
        if others { releaseSnapshot() }
    }

    /// In a commit's transaction, just before COMMIT: makes the COMMIT keep a read transaction open.
    /// Not once the WAL is near the checkpoint size (until it has restarted), nor while others commit.
    func holdSnapshot() throws(StoreError) {
        guard !heldSnapshot.isHeld, !heldSnapshot.othersWrite, heldSnapshot.walFrames < HeldSnapshot.holdFrames else { return }
        if heldSnapshot.statement == nil { heldSnapshot.statement = try unlistedStatement("SELECT 1 FROM meta") }
        let statement = heldSnapshot.statement!
        guard try statement.step() else {
            statement.reset()
            return
        }
        heldSnapshot.isHeld = true
    }

    /// After a COMMIT that kept the snapshot: the checkpoint, if due.
    func checkpointIfDue() {
        guard heldSnapshot.isHeld else { return }
        if heldSnapshot.walFrames >= HeldSnapshot.checkpointFrames {
            releaseSnapshot()
            checkpointWAL()
        } else {
            heldSnapshot.lastCommit = DispatchTime.now().uptimeNanoseconds
        }
    }

    /// Ends the held read transaction (resetting the last unfinished statement ends it).
    func releaseSnapshot() {
        guard heldSnapshot.isHeld else { return }
        heldSnapshot.statement?.reset()
        heldSnapshot.isHeld = false
    }

    /// Lets go of a snapshot no commit has used for `HeldSnapshot.idleRelease`; true if it is still held.
    func releaseSnapshotIfIdle() -> Bool {
        guard heldSnapshot.isHeld else { return false }
        if DispatchTime.now().uptimeNanoseconds - heldSnapshot.lastCommit < HeldSnapshot.idleNanoseconds { return true }
        releaseSnapshot()
        return false
    }
}
