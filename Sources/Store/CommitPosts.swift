// Commits posted for the holder of the writers' turn (Docs/Store.md "Several processes: the shared
// log", *Posting*).
//
// With one session per process, each commit needed a writers' turn of its own: the turn went from
// process to process, each reading the others' records first, and every process woke for every
// sync; on two cores that CPU, not the log's syncs, bounded the rate (bench/RESULTS.md, fifteenth
// session). So a process's leader that finds the turn taken posts its commits (each in a post; payloads that
// fit one) on the `-sync` file and sleeps. The holder of the turn takes every posted
// commit into its batch: checks each against every commit before it, as its own, notes the id it
// gives it in the post before the append, appends it with its own in one write and, once the head is
// published, marks it DONE. Then it syncs the log, whose end wakes with one call the posters it made
// durable (they sleep on the log's sync generation, each matching the bits of its posts: GroupSync.c),
// and while commits are posted it goes on for more rounds, so
// that one process appends and syncs for all. A post it does not append (a conflict, a base the log
// lacks, a failed write) is returned: DONE with no id, and the poster commits it itself in the turn,
// which gives it the exact error.
//
// Hand-offs: a poster tries the turn after posting, and whoever lets go of the turn wakes the
// posters if a post is still POSTED. The states and the mutex are sequentially consistent, so either
// the poster's try or the releaser's look sees the other. A poster's sleep also times out, so a lost
// wake costs time, never a hang.
//
// Crashes: TAKEN exists only inside its taker's turn, so a holder of the turn that finds a post TAKEN
// (after the log's repair) knows its taker died: with an id the log holds (≤ head) the commit was
// appended, and the post becomes DONE; else it is POSTED again. A poster that dies leaves its post,
// which whoever finds no free post reclaims; its commit may be appended or not, and was never
// acknowledged.

import CGroupSync
import Glibc

extension SharedLog {
    /// A post the holder of the turn took: the commit's payload, the base it was made on, and the gc
    /// generation its references were checked under (`CommitRequest.gcGeneration`).
    struct TakenPost {
        let index: Int
        let base: CommitID
        let gcGeneration: UInt32?
        let payload: [UInt8]
    }

    enum PostState {
        /// Waiting for a holder of the turn (posted, or taken by one).
        case waiting
        /// Appended as this commit (not durable until a log sync covers it).
        case appended(CommitID)
        /// Returned: not appended; the poster commits it itself.
        case returned
    }

    /// A poster that sleeps this long looks again (a lost wake; a taker that died).
    static let postPoll: UInt64 = 5_000_000

    private func post(_ index: Int) -> UnsafeMutablePointer<lo_post> { lo_post_at(page.area, Int32(index)) }

    /// Claims a free post (or one a dead process left) for each payload and posts them: their indexes,
    /// or nil (nothing posted) if a payload is too long or there are not enough posts.
    func post(_ commits: [(payload: [UInt8], base: CommitID, gcGeneration: UInt32?)]) -> [Int]? {
        guard commits.allSatisfy({ $0.payload.count <= Int(LO_POST_CAPACITY) }) else { return nil }
        var indexes: [Int] = []
        for _ in commits {
            guard let index = claimPost() else {
                for index in indexes { freePost(index) }
                return nil
            }
            indexes.append(index)
        }
        for (index, commit) in zip(indexes, commits) {
            let slot = post(index)
            slot.pointer(to: \.length)!.pointee = UInt32(commit.payload.count)
            slot.pointer(to: \.base)!.pointee = UInt64(commit.base.rawValue)
            slot.pointer(to: \.gc_generation)!.pointee = commit.gcGeneration.map { $0 &+ 1 } ?? 0
            lo_post_set_commit(slot, 0)
            withUnsafeMutableBytes(of: &slot.pointee.payload) { $0.copyBytes(from: commit.payload) }
        }
        for index in indexes { lo_post_set_state(post(index), UInt32(LO_POST_POSTED)) }
        return indexes
    }

    /// A free post, or a CLAIMED or DONE one whose owner died (no holder of the turn touches those),
    /// now CLAIMED and owned by this process.
    private func claimPost() -> Int? {
        let me = getpid()
        for index in 0..<Int(LO_POST_SLOTS) where lo_post_change_state(post(index), UInt32(LO_POST_FREE), UInt32(LO_POST_CLAIMED)) != 0 {
            lo_post_set_owner(post(index), me)
            return index
        }
        for index in 0..<Int(LO_POST_SLOTS) {
            let slot = post(index), state = lo_post_state(slot), owner = lo_post_owner(slot)
            guard state == LO_POST_CLAIMED || state == LO_POST_DONE, owner > 0, owner != me,
                  kill(owner, 0) != 0, errno == ESRCH, lo_post_change_owner(slot, owner, me) != 0 else { continue }
            lo_post_set_state(slot, UInt32(LO_POST_CLAIMED))
            return index
        }
        return nil
    }

    /// Tests: the post as a process `owner` left it.
    func setPostOwnerForTests(_ index: Int, _ owner: pid_t) { lo_post_set_owner(post(index), owner) }

    func postState(_ index: Int) -> PostState {
        let slot = post(index), state = lo_post_state(slot)
        guard state == LO_POST_DONE else { return .waiting }
        let commit = lo_post_commit(slot)
        return commit == 0 ? .returned : .appended(CommitID(Int64(bitPattern: commit)))
    }

    /// What `awaitPosts` sleeps on: the log's sync generation, which every sync bumps.
    var postsGeneration: UInt32 { lo_log_generation(page.area) }

    /// Sleeps until the outcome of one of the posts `indexes` may have changed (the generation is no
    /// longer `seen`, and a wake names one of them or all posters), `postPoll` at most.
    func awaitPosts(_ seen: UInt32, _ indexes: some Sequence<Int>) {
        lo_log_wait_for_posts(page.area, seen, Self.postPoll, indexes.reduce(0) { $0 | 1 << UInt32($1) })
    }

    /// Takes back a post nobody took (a poster that gives up): false if a holder of the turn took it.
    func withdrawPost(_ index: Int) -> Bool {
        lo_post_change_state(post(index), UInt32(LO_POST_POSTED), UInt32(LO_POST_CLAIMED)) != 0
    }

    /// By the poster, once it has read the outcome (or withdrawn the post).
    func freePost(_ index: Int) {
        lo_post_set_owner(post(index), 0)
        lo_post_set_state(post(index), UInt32(LO_POST_FREE))
    }

    // MARK: By the holder of the writers' turn

    /// Takes every posted commit.
    func takePosts() -> [TakenPost] {
        var taken: [TakenPost] = []
        for index in 0..<Int(LO_POST_SLOTS) {
            let slot = post(index)
            guard lo_post_state(slot) == LO_POST_POSTED,
                  lo_post_change_state(slot, UInt32(LO_POST_POSTED), UInt32(LO_POST_TAKEN)) != 0 else { continue }
            let length = Int(min(slot.pointer(to: \.length)!.pointee, UInt32(LO_POST_CAPACITY)))
            let payload = withUnsafeBytes(of: &slot.pointee.payload) { Array($0.prefix(length)) }
            let generation = slot.pointer(to: \.gc_generation)!.pointee
            taken.append(TakenPost(index: index, base: CommitID(Int64(bitPattern: slot.pointer(to: \.base)!.pointee)),
                                   gcGeneration: generation == 0 ? nil : generation &- 1, payload: payload))
        }
        return taken
    }

    /// Before the append: the id the post's commit gets.
    func notePostCommit(_ index: Int, _ commit: CommitID) { lo_post_set_commit(post(index), UInt64(commit.rawValue)) }

    /// After the append's head is published (`appended`), or for a post not appended.
    func finishPost(_ index: Int, appended: Bool) {
        let slot = post(index)
        if !appended { lo_post_set_commit(slot, 0) }
        lo_post_set_state(slot, UInt32(LO_POST_DONE))
    }

    /// Whether the holder of the turn still has the post (not finished yet).
    func isTaken(_ index: Int) -> Bool { lo_post_state(post(index)) == LO_POST_TAKEN }

    /// Wakes every poster asleep on the log's sync generation (one wake call; each looks at its post).
    func wakePosters() { _ = lo_log_wake_everyone(page.area) }

    /// After the log's repair, in the writers' turn: the posts whose taker died in its turn.
    func repairPosts() {
        var repaired = false
        for index in 0..<Int(LO_POST_SLOTS) where lo_post_state(post(index)) == LO_POST_TAKEN {
            let commit = lo_post_commit(post(index))
            if commit != 0 && commit <= UInt64(head.rawValue) {
                finishPost(index, appended: true)
            } else {
                lo_post_set_commit(post(index), 0)
                lo_post_set_state(post(index), UInt32(LO_POST_POSTED))
            }
            repaired = true
        }
        if repaired { wakePosters() }
    }

    /// Whether a commit is posted that nobody took.
    var hasPosts: Bool {
        (0..<Int(LO_POST_SLOTS)).contains { lo_post_state(post($0)) == LO_POST_POSTED }
    }

    /// After letting go of the turn: wakes the posters if a post is still untaken, so that one takes the turn.
    func handOffToAPoster() {
        if hasPosts { wakePosters() }
    }
}
