// Group commit: concurrent commits wait in a queue, and one of their threads writes them all in one
// SQLite transaction, so they share one fsync.
//
// No committer thread: the first caller to find nobody leading becomes the leader. It takes every
// queued request, writes them as one batch, syncs the WAL (after SQLite's write lock is released, so
// other processes write meanwhile: WALSync.swift), hands each waiter its result and, if more requests
// queued up meanwhile, leads again or wakes one of them to lead the next batch. While a leader waits
// for its fsync the next batch gathers — the more sessions commit, the more commits each fsync carries.
// (Writing the next batch during the sync was tried: batches got smaller and each fsync costs CPU
// time, so the rate fell.)

import Dispatch
import Synchronization

final class CommitQueue: Sendable {
    private struct State {
        var waiting: [CommitTicket] = []
        var leading = false
        var batches = 0, commits = 0
    }

    private let state = Mutex(State())

    /// Queues the ticket; true if the caller must lead (nobody else is).
    func enqueue(_ ticket: CommitTicket) -> Bool {
        state.withLock { state in
            state.waiting.append(ticket)
            if state.leading { return false }
            state.leading = true
            return true
        }
    }

    /// The leader takes everything queued.
    func takeBatch() -> [CommitTicket] {
        state.withLock { state in
            defer { state.waiting.removeAll() }
            state.batches += 1
            state.commits += state.waiting.count
            return state.waiting
        }
    }

    var statistics: (batches: Int, commits: Int) { state.withLock { ($0.batches, $0.commits) } }

    /// After a batch: the next leader among the waiting, or nil (and nobody leads).
    func nextLeader() -> CommitTicket? {
        state.withLock { state in
            guard let next = state.waiting.first else {
                state.leading = false
                return nil
            }
            return next
        }
    }
}

/// One commit waiting for its batch; its thread sleeps until it gets a result or is told to lead.
/// (A commit that finds nobody leading leads at once and never sleeps: its ticket makes no semaphore.)
final class CommitTicket: Sendable {
    enum Outcome: Sendable {
        case finished(Result<CommitID, any Error>)
        case lead
    }

    private struct State {
        var outcome: Outcome?
        /// Made by a waiter that came before the outcome.
        var signal: DispatchSemaphore?
    }

    let request: CommitRequest
    private let state = Mutex(State())

    init(_ request: CommitRequest) { self.request = request }

    /// Delivered once.
    func deliver(_ result: Outcome) {
        let signal = state.withLock { state in
            state.outcome = result
            return state.signal
        }
        signal?.signal()
    }

    func wait() -> Outcome {
        let signal = state.withLock { state -> DispatchSemaphore? in
            if state.outcome != nil { return nil }
            state.signal = DispatchSemaphore(value: 0)
            return state.signal
        }
        signal?.wait()
        return state.withLock { $0.outcome! }
    }
}
