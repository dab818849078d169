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
// - when a commit has brought the WAL to the checkpoint size: it then checkpoints, as SQLite's
//   autocheckpoint does (the wal hook below replaces it), and holds nothing until the WAL has restarted;
// - when no commit came for 50 ms (`SQLiteStore.releaseSnapshotWhenIdle`), so that an idle store does
//   not hold up the checkpoints of another process for long.
//
// Unlike SQLite's autocheckpoint, a connection does not checkpoint after every commit while the WAL
// stays past the checkpoint size, but a few times each time it has grown by that size. A WAL stays that
// long when readers keep it from restarting, as the writers of other processes always do while they
// commit. Each checkpoint takes locks and copies frames, and if it finds frames to copy it first syncs
// the WAL: with SQLite's rule, eight processes committing ran one after nearly every commit, and a third
// of their WAL syncs were the checkpoints' (bench/RESULTS.md, group-sync session).

import CSQLite
import Dispatch
import Synchronization

struct HeldSnapshot {
    /// Kept unfinished while the snapshot is held (prepared on first use).
    fileprivate var statement: Statement?
    fileprivate var isHeld = false
    /// Frames in the WAL after the last transaction committed on this connection (the wal hook).
    fileprivate var walFrames: Int32 = 0
    /// When the last commit that left the snapshot held finished (uptime nanoseconds).
    fileprivate var lastCommit: UInt64 = 0
    /// The WAL's size in frames when this connection began its current round of checkpoints, and how
    /// many it has begun since.
    fileprivate var roundStart: Int32 = 0
    fileprivate var roundCheckpoints = 0

    /// After a commit: the WAL's size. Below the checkpoint size (it restarted), a new round begins.
    fileprivate mutating func noteWALFrames(_ frames: Int32) {
        walFrames = frames
        if frames < Self.checkpointFrames { roundCheckpoints = 0 }
    }

    /// Whether to checkpoint now: the WAL is at the checkpoint size, and this round (begun when it got
    /// there, or grew by that size again) has had fewer than `checkpointsPerRound` checkpoints. More than
    /// one: a checkpoint that copied every frame lets the next write restart the WAL only if no reader is
    /// busy with it at that moment.
    fileprivate mutating func checkpointDue() -> Bool {
        guard walFrames >= Self.checkpointFrames else { return false }
        if roundCheckpoints == 0 || walFrames < roundStart || walFrames - roundStart >= Self.checkpointFrames {
            roundStart = walFrames
            roundCheckpoints = 0
        }
        guard roundCheckpoints < Self.checkpointsPerRound else { return false }
        roundCheckpoints += 1
        Self.checkpointsStarted.add(1, ordering: .relaxed)
        return true
    }

    /// SQLite's autocheckpoint size, in frames.
    static let checkpointFrames: Int32 = 1000
    static let checkpointsPerRound = 3
    /// Checkpoints started by commits, in every store (tests count them).
    static let checkpointsStarted = Atomic<Int>(0)
    /// How long a snapshot is held after the last commit (and how often, while commits keep coming,
    /// a timer looks whether they have stopped).
    fileprivate static let idleMilliseconds = 50
    static let idleRelease: DispatchTimeInterval = .milliseconds(idleMilliseconds)
    fileprivate static let idleNanoseconds = UInt64(idleMilliseconds) * 1_000_000
}

extension Connection {
    var holdsSnapshot: Bool { heldSnapshot.isHeld }

    /// Replaces SQLite's autocheckpoint with a hook that does the same (a passive checkpoint once a commit
    /// has brought the WAL to 1000 frames) unless the snapshot is held; `checkpointIfDue` then does it.
    func installCheckpointHook() {
        sqlite3_wal_hook(raw, { context, db, name, frames in
            let connection = Unmanaged<Connection>.fromOpaque(context!).takeUnretainedValue()
            connection.heldSnapshot.noteWALFrames(frames)
            if !connection.heldSnapshot.isHeld && connection.heldSnapshot.checkpointDue() {
                sqlite3_wal_checkpoint(db, name)
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
                releaseSnapshot()
                if isInTransaction { try? run(.rollback) }
            }
        }
        try run(.beginImmediate)
    }

    /// In a commit's transaction, just before COMMIT: makes the COMMIT keep a read transaction open.
    /// Not while the WAL is due for a checkpoint (until it has restarted).
    func holdSnapshot() throws(StoreError) {
        guard !heldSnapshot.isHeld, heldSnapshot.walFrames < HeldSnapshot.checkpointFrames else { return }
        if heldSnapshot.statement == nil { heldSnapshot.statement = try unlistedStatement("SELECT 1 FROM meta") }
        let statement = heldSnapshot.statement!
        guard try statement.step() else {
            statement.reset()
            return
        }
        heldSnapshot.isHeld = true
    }

    /// After a COMMIT that kept the snapshot: the checkpoint SQLite's autocheckpoint would have made, if due.
    func checkpointIfDue() {
        guard heldSnapshot.isHeld else { return }
        if heldSnapshot.walFrames >= HeldSnapshot.checkpointFrames {
            releaseSnapshot()
            if heldSnapshot.checkpointDue() { sqlite3_wal_checkpoint(raw, "main") }
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
