// What a store opened exclusively knows about its commit log (Docs/Store.md "The commit log"): the
// log file, the newest durable commit, the newest commit SQLite has (`applied`), the logged commits
// not applied yet, and what the commits after some applied one wrote (for conflict checks).
//
// Locks: `log` is held by the leader of a batch from its conflict checks to its sync (so commit ids
// are given in log order), and by operations that must see no new commit (rollback, vacuum). `state`
// is held briefly by the leader and the applier; `appliedChanged` guards the wait for `applied`.
// Never take `log` while holding `state`.

import Foundation
import Synchronization

final class ExclusiveLog: Sendable {
    struct State {
        /// Durable commits not written to SQLite yet, oldest first.
        var pending: [(id: CommitID, commit: LoggedCommit)] = []
        /// The writes of every commit after `recent.since`, which is never after `applied`.
        var recent: RecentWrites
        /// Why the last apply failed (cleared by one that succeeds): waiting reads get it.
        var applyFailure: StoreError?
    }

    let log: Mutex<CommitLog>
    let state: Mutex<State>
    /// The newest commit whose log sync completed: the head that `headCommit` answers.
    private let durable: Atomic<Int64>
    /// The newest commit written to SQLite (not necessarily synced there: the log holds it).
    private let applied: Atomic<Int64>
    private let appliedChanged = NSCondition()
    /// Whether the background apply is scheduled or running. All applies, this one and those a waiting
    /// read asks for (`applyNow`), run one at a time on the store's apply queue.
    let applyScheduled = Atomic<Bool>(false)
    /// Set when the store closes: scheduled applies then do nothing (the store applies what is left).
    let closed = Atomic<Bool>(false)
    /// Bumped by every gc of the store (GCGeneration.swift): changed only while `log` is held.
    let gcGeneration = Atomic<UInt32>(0)
    /// How long after a commit the apply starts. Applying at once put one commit in each SQLite
    /// transaction, on the second core, while the committing thread needed it; waiting 2 ms lets a
    /// batch gather (one session on the real disk 0.86× → 1.05× the fsync probe, 8 threads 2.6× → 3.9×;
    /// bench/RESULTS.md, thirteenth session). A read that needs the commits has them applied at once.
    static let applyDelay: DispatchTimeInterval = .milliseconds(2)
    /// The log is reset once it is this long and every commit in it is applied and synced.
    static let resetLength = 4 << 20

    init(_ log: consuming sending CommitLog, head: CommitID) {
        self.log = Mutex(log)
        state = Mutex(State(recent: RecentWrites(since: head)))
        durable = Atomic(head.rawValue)
        applied = Atomic(head.rawValue)
    }

    var durableHead: CommitID { CommitID(durable.load(ordering: .acquiring)) }
    var appliedHead: CommitID { CommitID(applied.load(ordering: .acquiring)) }

    /// After the leader's log sync: the commits are durable, visible and waiting to be applied.
    func published(_ commits: [(id: CommitID, commit: LoggedCommit)]) {
        guard let last = commits.last else { return }
        state.withLock { $0.pending += commits }
        durable.store(last.id.rawValue, ordering: .releasing)
    }

    /// After the applier wrote `count` pending commits, through `last`, to SQLite.
    func applied(_ count: Int, through last: CommitID) {
        state.withLock { state in
            state.pending.removeFirst(count)
            state.applyFailure = nil
        }
        appliedChanged.lock()
        applied.store(last.rawValue, ordering: .releasing)
        appliedChanged.broadcast()
        appliedChanged.unlock()
    }

    func applyFailed(_ error: StoreError) {
        state.withLock { $0.applyFailure = error }
        appliedChanged.lock()
        appliedChanged.broadcast()
        appliedChanged.unlock()
    }

    /// After a commit written to SQLite outside the log (a rollback), which the log was reset after.
    func committedOutsideTheLog(_ id: CommitID) {
        state.withLock { $0.recent = RecentWrites(since: id) }
        durable.store(id.rawValue, ordering: .releasing)
        appliedChanged.lock()
        applied.store(id.rawValue, ordering: .releasing)
        appliedChanged.broadcast()
        appliedChanged.unlock()
    }

    /// Waits until SQLite has every commit through `commit`; throws why applying failed while the last
    /// apply has failed (the applier retries: a later wait may succeed).
    func waitUntilApplied(_ commit: CommitID) throws {
        if applied.load(ordering: .acquiring) >= commit.rawValue { return }
        appliedChanged.lock()
        defer { appliedChanged.unlock() }
        while applied.load(ordering: .acquiring) < commit.rawValue {
            if let failure = state.withLock({ $0.applyFailure }) { throw failure }
            _ = appliedChanged.wait(until: Date() + 1)
        }
    }

    /// Before conflict checks: forgets the writes of applied commits once there are too many to hold
    /// (the checks then read those from SQLite).
    func trimRecentWrites() {
        state.withLock { state in
            guard state.recent.count > RecentWrites.limit else { return }
            let since = CommitID(applied.load(ordering: .acquiring))
            var recent = RecentWrites(since: since)
            for (id, commit) in state.pending where id > since { recent.record(commit.request, as: id) }
            state.recent = recent
        }
    }
}
