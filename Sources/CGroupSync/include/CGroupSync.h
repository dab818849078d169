// The page shared by every process that commits to one store, for group commit of the WAL sync
// across processes (Sources/Store/GroupSync.swift) and for the writers' turn (WriterTurn.swift): its
// layout, and the atomics, the robust mutexes and the futex that Swift cannot use on memory mapped
// from a file.

#ifndef LO_GROUP_SYNC_H
#define LO_GROUP_SYNC_H

#include <pthread.h>
#include <stdint.h>

/// "LOgrsync" as a little-endian word: the first 8 bytes of a `<store>-sync` file.
#define LO_GROUP_SYNC_MAGIC 0x636e797372674f4cULL
/// The file's size: the counters' page, then the posted commits.
#define LO_GROUP_SYNC_FILE_SIZE 40960

/// A commit posted by a process for the holder of the writers' turn to append with its own
/// (CommitPosts.swift): how many can be posted at once, and how long a posted commit's payload may be.
#define LO_POST_SLOTS 16
#define LO_POST_CAPACITY 2016

/// A post's states. FREE → CLAIMED (its poster fills it) → POSTED → TAKEN (by the holder of the turn,
/// which sets `commit` before it appends) → DONE (with `commit` 0: returned, not appended) → FREE.
enum { LO_POST_FREE = 0, LO_POST_CLAIMED = 1, LO_POST_POSTED = 2, LO_POST_TAKEN = 3, LO_POST_DONE = 4 };

typedef struct {
    /// LO_POST_*. (Posters sleep on `log_generation`: a sync, or a holder that changed their posts,
    /// wakes them all with one call.)
    uint32_t state;
    /// The poster's process id (0 while FREE).
    int32_t owner;
    uint32_t length;
    /// The gc generation its poster checked its references under (`SQLiteStore.gcGeneration`), plus
    /// one; 0: not checked.
    uint32_t gc_generation;
    uint64_t base;
    /// The commit id the holder of the turn gave it (0: none).
    uint64_t commit;
    uint8_t payload[LO_POST_CAPACITY];
} lo_post;

typedef struct {
    uint64_t magic;
    /// sizeof(lo_group_sync): a file laid out by another build is not used.
    uint32_t size;
    uint32_t reserved;
    uint8_t padding0[48];
    /// Tickets handed out: a writer takes the next one after its COMMIT has returned.
    uint64_t written;
    uint8_t padding1[56];
    /// Every ticket up to this one is durable: a sync began after it was handed out, and completed.
    uint64_t durable;
    /// Bumped after every sync attempt; waiters sleep on it (a futex). Its top bit,
    /// `LO_GROUP_SYNC_SLEEPERS`, says that someone may be asleep on it: set by a waiter before it
    /// sleeps, cleared by the bump, which then wakes them. (A count of sleepers would stay wrong for
    /// good when one is killed asleep; the bit costs one needless wake, then it is clear.)
    uint32_t generation;
    uint32_t reserved2;
    /// CLOCK_MONOTONIC nanoseconds when the syncer took the mutex.
    uint64_t locked_at;
    uint8_t padding2[40];
    /// Process-shared and robust: elects the one that syncs.
    pthread_mutex_t mutex;
    uint8_t padding3[64 - sizeof(pthread_mutex_t) % 64];
    /// Process-shared and robust: the writers' turn, taken around a commit's SQLite transaction, so
    /// that writers of different processes queue for SQLite's write lock asleep, instead of polling it.
    pthread_mutex_t writer;
    /// CLOCK_MONOTONIC nanoseconds when the holder took the writers' turn.
    uint64_t writer_locked_at;
    /// Bumped by every transaction committed in the writers' turn.
    uint64_t turn_commits;
    uint8_t padding4[48];
    /// The commit log shared by processes (SharedLog.swift), all set by a store that opened the
    /// database alone. Changed in the writers' turn: the salt of the log's generation, the offset
    /// after its last record, and the end of an append under way (past `log_end` only while one is,
    /// or when its writer died in it: the next holder of the turn zeroes those bytes).
    uint64_t log_salt;
    uint64_t log_end;
    uint64_t log_appending_to;
    /// The newest commit appended (the log's "written"), the newest whose sync completed (visible),
    /// and the newest written to SQLite. applied <= durable <= head.
    uint64_t log_head;
    uint64_t log_durable;
    uint64_t log_applied;
    /// As `generation`, for the log's syncs.
    uint32_t log_generation;
    /// Bumped by every gc (vacuum) of the store, and whenever the writers' turn is taken from a holder
    /// that died (it may have been one): a commit checked under another gc generation is refused
    /// (Sources/Store/GCGeneration.swift).
    uint32_t gc_generation;
    uint64_t log_locked_at;
    uint8_t padding5[48];
    /// Process-shared and robust: elects the one that syncs the log.
    pthread_mutex_t log_mutex;
    uint8_t padding6[64 - sizeof(pthread_mutex_t) % 64];
    /// Process-shared and robust: held by the process that applies logged commits to SQLite.
    pthread_mutex_t apply;
    uint64_t apply_locked_at;
    /// Commits posted for the holder of the writers' turn.
    lo_post posts[LO_POST_SLOTS];
} lo_group_sync;

/// The top bit of `generation`: someone may sleep on it.
#define LO_GROUP_SYNC_SLEEPERS 0x80000000u

_Static_assert(sizeof(lo_group_sync) <= LO_GROUP_SYNC_FILE_SIZE, "the file holds it");
_Static_assert(sizeof(lo_post) == 2048, "posts of 2 KB");

static inline uint64_t lo_group_sync_take_ticket(lo_group_sync *area) {
    return __atomic_add_fetch(&area->written, 1, __ATOMIC_SEQ_CST);
}

static inline uint64_t lo_group_sync_written(const lo_group_sync *area) {
    return __atomic_load_n(&area->written, __ATOMIC_SEQ_CST);
}

static inline uint64_t lo_group_sync_durable(const lo_group_sync *area) {
    return __atomic_load_n(&area->durable, __ATOMIC_ACQUIRE);
}

static inline uint32_t lo_group_sync_generation(const lo_group_sync *area) {
    return __atomic_load_n(&area->generation, __ATOMIC_SEQ_CST);
}

static inline int lo_group_sync_may_have_sleepers(const lo_group_sync *area) {
    return (__atomic_load_n(&area->generation, __ATOMIC_SEQ_CST) & LO_GROUP_SYNC_SLEEPERS) != 0;
}

static inline uint64_t lo_group_sync_writer_locked_at(const lo_group_sync *area) {
    return __atomic_load_n(&area->writer_locked_at, __ATOMIC_RELAXED);
}

static inline uint64_t lo_group_sync_turn_commits(const lo_group_sync *area) {
    return __atomic_load_n(&area->turn_commits, __ATOMIC_ACQUIRE);
}

/// After a transaction committed in the writers' turn: answers the new count.
static inline uint64_t lo_group_sync_count_turn_commit(lo_group_sync *area) {
    return __atomic_add_fetch(&area->turn_commits, 1, __ATOMIC_RELEASE);
}

static inline uint64_t lo_group_sync_locked_at(const lo_group_sync *area) {
    return __atomic_load_n(&area->locked_at, __ATOMIC_RELAXED);
}

/// Nanoseconds of CLOCK_MONOTONIC (the same clock in every process).
uint64_t lo_group_sync_now(void);

/// Zeroes the page and makes the mutex, then writes the magic number last. Only while no other
/// process uses the file (the caller holds an exclusive `flock`). 0 or an errno.
int lo_group_sync_initialize(lo_group_sync *area);

/// Whether the page was laid out by `lo_group_sync_initialize` of this build.
int lo_group_sync_is_valid(const lo_group_sync *area);

/// Tries to take the mutex without waiting: 0 taken; 1 taken from a holder that died (made consistent
/// again); EBUSY held by another; another errno if the mutex is unusable.
int lo_group_sync_try_lock(lo_group_sync *area);

/// Lets go of the mutex.
void lo_group_sync_unlock(lo_group_sync *area);

/// Raises `durable` to `reached` (never lowers it), then bumps the generation and, if someone may be
/// asleep on it, wakes every waiter: answers 1 then (a wake call), else 0. With `reached` 0 (a failed
/// sync) only bumps and wakes.
int lo_group_sync_publish(lo_group_sync *area, uint64_t reached);

/// Sleeps while the generation is `seen` (as read by `lo_group_sync_generation`), at most `nanoseconds`.
void lo_group_sync_wait(lo_group_sync *area, uint32_t seen, uint64_t nanoseconds);

/// Tests: marks the generation as slept on, as a waiter killed asleep leaves it.
void lo_group_sync_mark_sleepers(lo_group_sync *area);

/// Tries to take the writers' turn without waiting: as `lo_group_sync_try_lock`.
int lo_group_sync_try_lock_writer(lo_group_sync *area);

/// Takes the writers' turn, waiting until `deadline` (CLOCK_MONOTONIC nanoseconds) at most: 0 taken;
/// 1 taken from a holder that died; ETIMEDOUT; another errno if the mutex is unusable.
int lo_group_sync_lock_writer(lo_group_sync *area, uint64_t deadline);

/// Lets go of the writers' turn.
void lo_group_sync_unlock_writer(lo_group_sync *area);

// The shared commit log's fields and locks (SharedLog.swift). Loads acquire, stores release.

static inline uint32_t lo_gc_generation(const lo_group_sync *area) { return __atomic_load_n(&area->gc_generation, __ATOMIC_SEQ_CST); }
static inline void lo_gc_generation_bump(lo_group_sync *area) { __atomic_add_fetch(&area->gc_generation, 1, __ATOMIC_SEQ_CST); }
static inline uint64_t lo_log_load(const uint64_t *field) { return __atomic_load_n(field, __ATOMIC_ACQUIRE); }
static inline void lo_log_store(uint64_t *field, uint64_t value) { __atomic_store_n(field, value, __ATOMIC_RELEASE); }

static inline uint32_t lo_log_generation(const lo_group_sync *area) {
    return __atomic_load_n(&area->log_generation, __ATOMIC_SEQ_CST);
}

/// As the group sync's functions, for the log's syncs: `log_head` is what is written, `log_durable`
/// what is durable.
int lo_log_try_lock(lo_group_sync *area);
void lo_log_unlock(lo_group_sync *area);
/// A log sync's publish wakes the posters it made durable, not all of them (GroupSync.c); these wake
/// every sleeper, and sleep as a poster of the posts in the mask `posts` (bit i: post i).
int lo_log_publish(lo_group_sync *area, uint64_t reached);
int lo_log_wake_everyone(lo_group_sync *area);
void lo_log_wait(lo_group_sync *area, uint32_t seen, uint64_t nanoseconds);
void lo_log_wait_for_posts(lo_group_sync *area, uint32_t seen, uint64_t nanoseconds, uint32_t posts);

/// The apply lock: as the writers' turn's functions.
int lo_apply_try_lock(lo_group_sync *area);
int lo_apply_lock(lo_group_sync *area, uint64_t deadline);
void lo_apply_unlock(lo_group_sync *area);

// Posted commits (CommitPosts.swift). States change with sequentially consistent atomics: a poster
// stores POSTED, then tries the writers' turn; a holder lets go of the turn, then looks for POSTED.

static inline lo_post *lo_post_at(lo_group_sync *area, int index) { return &area->posts[index]; }

static inline uint32_t lo_post_state(const lo_post *post) { return __atomic_load_n(&post->state, __ATOMIC_SEQ_CST); }

static inline void lo_post_set_state(lo_post *post, uint32_t state) { __atomic_store_n(&post->state, state, __ATOMIC_SEQ_CST); }

/// Changes the state from `from` to `to` if it is `from`: 1 if it did.
static inline int lo_post_change_state(lo_post *post, uint32_t from, uint32_t to) {
    return __atomic_compare_exchange_n(&post->state, &from, to, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

static inline int32_t lo_post_owner(const lo_post *post) { return __atomic_load_n(&post->owner, __ATOMIC_SEQ_CST); }

static inline void lo_post_set_owner(lo_post *post, int32_t owner) { __atomic_store_n(&post->owner, owner, __ATOMIC_SEQ_CST); }

/// Changes the owner from `from` to `to` if it is `from`: 1 if it did.
static inline int lo_post_change_owner(lo_post *post, int32_t from, int32_t to) {
    return __atomic_compare_exchange_n(&post->owner, &from, to, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

static inline uint64_t lo_post_commit(const lo_post *post) { return __atomic_load_n(&post->commit, __ATOMIC_SEQ_CST); }

static inline void lo_post_set_commit(lo_post *post, uint64_t commit) { __atomic_store_n(&post->commit, commit, __ATOMIC_SEQ_CST); }

// Wake words: a futex word for the threads of one process (CommitQueue.swift). A waiter reads the
// word, checks what it waits for, then sleeps while the word is unchanged; a waker changes what is
// waited for, then bumps the word and wakes. The top bit says that someone may sleep on the word, so a
// bump with nobody asleep makes no system call.

#define LO_WAKE_WORD_SLEEPERS 0x80000000u
/// `lo_wake_word_bump`'s count that wakes every sleeper.
#define LO_WAKE_ALL 0x7fffffff

uint32_t lo_wake_word_load(const uint32_t *word);

/// Sleeps while the word is `seen` (as read by `lo_wake_word_load`); may return spuriously.
void lo_wake_word_wait(uint32_t *word, uint32_t seen);

/// Bumps the word and, if someone may sleep on it, wakes `count` sleepers (`LO_WAKE_ALL`): 1 if it
/// made the wake call.
int lo_wake_word_bump(uint32_t *word, int count);

#endif
