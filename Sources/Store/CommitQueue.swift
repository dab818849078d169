// Group commit: concurrent commits wait in a queue, and one of their threads writes them all in one
// SQLite transaction, so they share one fsync.
//
// No committer thread: the first caller to find nobody leading becomes the leader. It takes every
// queued request, writes them as one batch, syncs the WAL (after SQLite's write lock is released, so
// other processes write meanwhile: WALSync.swift), hands each waiter its result and, if more requests
// queued up meanwhile, leads again or wakes one of them to lead the next batch. While a leader waits
// for its fsync the next batch gathers — the more sessions commit, the more commits each fsync carries.
// (Writing the next batch during the sync was tried: batches got smaller and each fsync costs CPU
// time, so the rate fell. So was waking one waiter, which wakes the next: they came back too late.)
//
// The waiters of one batch sleep on one futex word (a `Gathering`), so the leader wakes them all with
// one system call once their results are in, not one each.

import CGroupSync
import Synchronization

final class CommitQueue: Sendable {
    private struct State {
        var waiting: [CommitTicket] = []
        /// Where the commits queued now sleep until their batch is written.
        var gathering = Gathering()
        var leading = false
        var batches = 0, commits = 0
    }

    private let state = Mutex(State())

    /// Queues the ticket: nil if the caller must lead (nobody else is), else where it waits.
    func enqueue(_ ticket: CommitTicket) -> Gathering? {
        state.withLock { state in
            state.waiting.append(ticket)
            if state.leading { return state.gathering }
            state.leading = true
            return nil
        }
    }

    /// The leader takes everything queued, and where its waiters sleep.
    func takeBatch() -> (tickets: [CommitTicket], gathering: Gathering) {
        state.withLock { state in
            defer {
                state.waiting.removeAll()
                state.gathering = Gathering()
            }
            state.batches += 1
            state.commits += state.waiting.count
            return (state.waiting, state.gathering)
        }
    }

    var statistics: (batches: Int, commits: Int) { state.withLock { ($0.batches, $0.commits) } }

    /// After a batch: where the next batch's commits wait, or nil if none do (and nobody leads).
    func nextGathering() -> Gathering? {
        state.withLock { state in
            if state.waiting.isEmpty {
                state.leading = false
                return nil
            }
            return state.gathering
        }
    }
}

/// One commit; a waiter's thread sleeps until its batch's leader gives it a result.
final class CommitTicket: Sendable {
    let request: CommitRequest
    private let result = Mutex<Result<CommitID, any Error>?>(nil)

    init(_ request: CommitRequest) { self.request = request }

    /// Before the gathering wakes its waiters.
    func finish(_ outcome: Result<CommitID, any Error>) { result.withLock { $0 = outcome } }

    var finished: Result<CommitID, any Error>? { result.withLock { $0 } }
}

/// The commits queued for one batch, asleep on one futex word: the leader that writes the batch wakes
/// them all at once, and a leader that hands over the lead wakes one of them to take it.
final class Gathering: @unchecked Sendable {
    enum Outcome {
        case finished(Result<CommitID, any Error>)
        case lead
    }

    private let word = UnsafeMutablePointer<UInt32>.allocate(capacity: 1)
    private let leadOffered = Atomic<Bool>(false)

    init() { word.initialize(to: 0) }
    deinit { word.deallocate() }

    /// Sleeps until `ticket` has its result, or this thread takes the lead offered.
    func wait(for ticket: CommitTicket) -> Outcome {
        while true {
            let seen = lo_wake_word_load(word)
            if let result = ticket.finished { return .finished(result) }
            if leadOffered.compareExchange(expected: true, desired: false, ordering: .acquiringAndReleasing).exchanged {
                return .lead
            }
            lo_wake_word_wait(word, seen)
        }
    }

    /// After every ticket of the batch has its result.
    func wakeAll() { lo_wake_word_bump(word, LO_WAKE_ALL) }

    /// One waiter takes the lead: whichever looks first (the one woken, or one not yet asleep).
    func offerLead() {
        leadOffered.store(true, ordering: .releasing)
        lo_wake_word_bump(word, 1)
    }
}
