// The page shared by every process that commits to one store, for group commit of the WAL sync
// across processes (Sources/Store/GroupSync.swift): its layout, and the atomics, the robust mutex and
// the futex that Swift cannot use on memory mapped from a file.

#ifndef LO_GROUP_SYNC_H
#define LO_GROUP_SYNC_H

#include <pthread.h>
#include <stdint.h>

/// "LOgrsync" as a little-endian word: the first 8 bytes of a `<store>-sync` file.
#define LO_GROUP_SYNC_MAGIC 0x636e797372674f4cULL
/// The file's size: one page.
#define LO_GROUP_SYNC_FILE_SIZE 4096

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
    /// Bumped after every sync attempt; waiters sleep on it (a futex).
    uint32_t generation;
    /// How many are asleep on `generation`. (One killed asleep stays counted: each sync then makes a
    /// needless wake call, until the file is rebuilt.)
    uint32_t waiters;
    /// CLOCK_MONOTONIC nanoseconds when the syncer took the mutex.
    uint64_t locked_at;
    uint8_t padding2[40];
    /// Process-shared and robust: elects the one that syncs.
    pthread_mutex_t mutex;
} lo_group_sync;

_Static_assert(sizeof(lo_group_sync) <= LO_GROUP_SYNC_FILE_SIZE, "one page");

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

static inline uint32_t lo_group_sync_waiters(const lo_group_sync *area) {
    return __atomic_load_n(&area->waiters, __ATOMIC_SEQ_CST);
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

/// Raises `durable` to `reached` (never lowers it), then bumps the generation and wakes every waiter.
/// With `reached` 0 (a failed sync) only wakes them.
void lo_group_sync_publish(lo_group_sync *area, uint64_t reached);

/// Sleeps while the generation is `seen`, at most `nanoseconds`.
void lo_group_sync_wait(lo_group_sync *area, uint32_t seen, uint64_t nanoseconds);

#endif
