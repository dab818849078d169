// Keeping the WAL bounded while several processes commit.
//
// SQLite starts the WAL again from its beginning only in a writer whose read transaction began when
// every frame had been copied into the database (such a reader takes read mark 0 and ignores the WAL),
// and only if nobody reads on marks 1–4 at that moment. One process's commits get there by
// themselves: the checkpoint after a commit that brings the WAL to 1000 frames runs under the store's
// writer lock, so no commit comes in meanwhile, and the next commit starts the WAL again. Several
// processes never do: a passive checkpoint does not take SQLite's write lock, and while it syncs the
// WAL, copies pages and syncs the database the other processes commit, so it always ends frames
// short, and no writer begins at read mark 0 (bench/RESULTS.md, WAL-bound session: under eight
// processes the WAL was wholly copied 0.4% of the time, never when a writer began, and grew by
// 20–30 MB a second).
//
// So that checkpoint is a passive one, then, unless a reader held it back, a RESTART checkpoint: that
// takes the write lock (no commit comes in), copies the frames committed meanwhile, and waits until
// nobody reads on marks 1–4 (those who begin meanwhile read the database alone); the next commit, of
// any process, starts the WAL again. When nothing came in, the RESTART copies nothing and only takes
// and releases locks.
//
// No process commits while the RESTART waits holding the write lock, so it waits only where that is
// short, and never long:
// - A reader whose snapshot is `oldReaderFrames` or more behind the WAL's end (a backup, a check, an
//   idle store's held snapshot) holds back the passive checkpoint by as much: then no RESTART at all
//   (the next commit checkpoints again). Readers a commit or two behind are mostly other processes'
//   commits in progress, which are short.
// - Its busy handler gives up after `longestWait` of waiting in all (the store's waits 30 s); then no
//   RESTART for `firstBackoff`, doubling up to `longestBackoff` while they keep giving up. What it
//   waits for: another process's commit (its write lock); read transactions in progress; another
//   store's held snapshot, let go when that store next tries to commit (it finds the write lock taken)
//   — near the checkpoint size commits hold none (HeldSnapshot.swift), so that the RESTART does not
//   wait for a WAL sync of theirs.
// SQLite never waits for the checkpoint lock: while another connection checkpoints, this one's
// checkpoints give up at once, and its next commit tries again.

import CSQLite
import Dispatch
import Glibc

struct WALRestart {
    /// A reader this many frames behind the WAL's end is left to finish: no RESTART waits for it.
    static let oldReaderFrames: Int32 = HeldSnapshot.checkpointFrames / 10
    /// The longest a RESTART checkpoint waits for others, in all (its own I/O not counted).
    static let longestWait: UInt64 = 50_000_000
    static let firstBackoff: UInt64 = 100_000_000
    static let longestBackoff: UInt64 = 1_000_000_000

    /// No RESTART before this (uptime nanoseconds), after one that gave up.
    fileprivate var notBefore: UInt64 = 0
    fileprivate var backoff = firstBackoff
    /// While a RESTART runs: how long its busy handler has waited, and whether it gave up.
    fileprivate var waited: UInt64 = 0
    fileprivate var gaveUp = false
    /// RESTART checkpoints that completed, and that gave up waiting (tests read them).
    fileprivate(set) var completed = 0, timedOut = 0
}

extension Connection {
    /// The checkpoint due after a commit has brought the WAL to the checkpoint size, run outside any
    /// transaction of this connection.
    func checkpointWAL() {
        var frames: Int32 = 0, copied: Int32 = 0
        guard sqlite3_wal_checkpoint_v2(raw, "main", SQLITE_CHECKPOINT_PASSIVE, &frames, &copied) == SQLITE_OK,
              frames - copied < WALRestart.oldReaderFrames,
              DispatchTime.now().uptimeNanoseconds >= walRestart.notBefore else { return }
        walRestart.waited = 0
        walRestart.gaveUp = false
        sqlite3_busy_handler(raw, waitAWhile, Unmanaged.passUnretained(self).toOpaque())
        let rc = sqlite3_wal_checkpoint_v2(raw, "main", SQLITE_CHECKPOINT_RESTART, nil, nil)
        installBusyHandler()
        if rc == SQLITE_OK {
            walRestart.completed += 1
            walRestart.backoff = WALRestart.firstBackoff
        } else if walRestart.gaveUp {
            walRestart.timedOut += 1
            walRestart.notBefore = DispatchTime.now().uptimeNanoseconds + walRestart.backoff
            walRestart.backoff = min(2 * walRestart.backoff, WALRestart.longestBackoff)
        }
    }
}

/// The busy handler of a RESTART checkpoint: short sleeps, as `waitWhileBusy`, up to `longestWait` in all.
private let waitAWhile: @convention(c) (UnsafeMutableRawPointer?, Int32) -> Int32 = { context, count in
    let connection = Unmanaged<Connection>.fromOpaque(context!).takeUnretainedValue()
    guard connection.walRestart.waited < WALRestart.longestWait else {
        connection.walRestart.gaveUp = true
        return 0
    }
    let start = DispatchTime.now().uptimeNanoseconds
    usleep(count < 6 ? 20 << UInt32(count) : 1_000)
    connection.walRestart.waited += DispatchTime.now().uptimeNanoseconds - start
    return 1
}
