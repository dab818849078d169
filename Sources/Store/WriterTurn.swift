// The writers' turn: the commits of different processes queue for SQLite's write lock asleep.
//
// SQLite's locks between processes are `fcntl` locks that nobody waits on: a writer that finds the
// write lock taken is refused, and its busy handler sleeps and tries again (Connection.swift: 20 µs,
// doubling up to 1 ms), beginning its read transaction afresh each time. Under eight processes
// committing without a pause, that polling was much of what a commit cost them: locks tried and
// refused, sleeps that overslept the lock's release, and CPU spent by the losers while the winner
// wrote (bench/RESULTS.md, twelfth session). So a commit's transaction takes the writers' turn first:
// a process-shared, robust mutex on the shared page (GroupSync.swift, CGroupSync). The others sleep
// in the kernel until the holder lets go, just after its COMMIT (before its WAL sync), and one of
// them is woken. SQLite's lock still guards the database: the turn only orders who asks for it, and
// writes that do not take it (allocating OIDs, checkpoints, vacuum, a store of another build) wait
// on SQLite's lock as before.
//
// The page also counts the transactions committed in the turn, so a writer knows, once it has the
// turn, whether another committed since its own last commit: then its held snapshot (HeldSnapshot.swift)
// is stale and BEGIN IMMEDIATE would refuse it, so it lets go first, and while others commit it holds
// none. A writer that must wait lets go of its snapshot before it sleeps: a RESTART checkpoint that the
// holder runs after its commit (WALRestart.swift) waits for every reader.
//
// A holder that dies is taken over (robust mutex). One that lives but keeps the turn longer than the
// group's `stuckAfter` (a stopped process; a very large commit) is passed: the others, and every writer
// that comes while it stays, go without the turn, on SQLite's lock and the busy handler alone.

import CGroupSync
import Glibc

extension GroupSync {
    struct WriterTurn {
        /// False: the writer goes without the turn (its holder is stuck, or the mutex is unusable).
        let held: Bool
        /// Whether it had to wait, or another writer committed in the turn since this store's last commit.
        let othersWrite: Bool
    }

    /// Takes the writers' turn, sleeping while another holds it; `beforeWaiting` runs first if it must wait.
    func takeWriterTurn(beforeWaiting: () -> Void) -> WriterTurn {
        var locked = lo_group_sync_try_lock_writer(area)
        let waited = locked == EBUSY
        if waited {
            beforeWaiting()
            let stuck = stuckAfter.load(ordering: .relaxed)
            while locked == EBUSY || locked == ETIMEDOUT {
                let since = lo_group_sync_writer_locked_at(area)
                guard lo_group_sync_now() &- since < stuck else { break }
                locked = lo_group_sync_lock_writer(area, since &+ stuck)
            }
        }
        guard locked == 0 || locked == 1 else {
            turnsPassed.add(1, ordering: .relaxed)
            return WriterTurn(held: false, othersWrite: true)
        }
        if locked == 1 { recoveredLocks.add(1, ordering: .relaxed) }
        let othersCommitted = lo_group_sync_turn_commits(area) != lastTurnCommit.load(ordering: .relaxed)
        return WriterTurn(held: true, othersWrite: waited || othersCommitted)
    }

    /// Lets go of the turn, counting the transaction if it `committed`.
    func endWriterTurn(_ turn: WriterTurn, committed: Bool) {
        guard turn.held else { return }
        if committed { lastTurnCommit.store(lo_group_sync_count_turn_commit(area), ordering: .relaxed) }
        lo_group_sync_unlock_writer(area)
    }

    /// Tests: whether another holds the writers' turn now (takes and lets go of it if free).
    var isWriterTurnTakenElsewhere: Bool {
        let locked = lo_group_sync_try_lock_writer(area)
        if locked == 0 || locked == 1 { lo_group_sync_unlock_writer(area) }
        return locked == EBUSY
    }
}

