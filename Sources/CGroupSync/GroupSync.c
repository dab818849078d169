// The robust mutexes and the futex of the shared sync page (include/CGroupSync.h).

#define _GNU_SOURCE  // pthread_mutex_clocklock
#include "CGroupSync.h"

#include <errno.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

uint64_t lo_group_sync_now(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

int lo_group_sync_initialize(lo_group_sync *area) {
    memset(area, 0, sizeof *area);
    pthread_mutexattr_t attributes;
    int error = pthread_mutexattr_init(&attributes);
    if (error) return error;
    error = pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED);
    if (!error) error = pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST);
    if (!error) error = pthread_mutex_init(&area->mutex, &attributes);
    if (!error) error = pthread_mutex_init(&area->writer, &attributes);
    if (!error) error = pthread_mutex_init(&area->log_mutex, &attributes);
    if (!error) error = pthread_mutex_init(&area->apply, &attributes);
    pthread_mutexattr_destroy(&attributes);
    if (error) return error;
    area->size = sizeof *area;
    __atomic_store_n(&area->magic, LO_GROUP_SYNC_MAGIC, __ATOMIC_RELEASE);
    return 0;
}

int lo_group_sync_is_valid(const lo_group_sync *area) {
    return __atomic_load_n(&area->magic, __ATOMIC_ACQUIRE) == LO_GROUP_SYNC_MAGIC && area->size == sizeof *area;
}

/// After a lock call: a mutex whose holder died is made consistent again (1). The sync mutexes guard
/// nothing the dead holder could have left half-done: `durable` only ever rises, to a value read
/// before a sync that completed. The writers' turn without the shared log only orders the calls on
/// SQLite's own lock; with it, and the apply lock, the caller repairs what a holder left (1 tells it
/// to: SharedLog.swift).
static int recovered(pthread_mutex_t *mutex, int error, uint64_t *locked_at) {
    if (error == EOWNERDEAD) {
        error = pthread_mutex_consistent(mutex);
        if (error) {
            pthread_mutex_unlock(mutex);
            return error;
        }
        error = 1;
    }
    if (error == 0 || error == 1) __atomic_store_n(locked_at, lo_group_sync_now(), __ATOMIC_RELAXED);
    return error;
}

int lo_group_sync_try_lock(lo_group_sync *area) {
    return recovered(&area->mutex, pthread_mutex_trylock(&area->mutex), &area->locked_at);
}

void lo_group_sync_unlock(lo_group_sync *area) {
    pthread_mutex_unlock(&area->mutex);
}

/// Raises `*durable` to `reached`, bumps `*generation` and wakes its sleepers whose wait matches
/// `wake` (FUTEX_BITSET_MATCH_ANY: all of them; see the header). Returns the durable value.
static uint64_t publish(uint64_t *durable_field, uint32_t *generation, uint64_t reached, uint32_t wake, int *woke) {
    uint64_t durable = __atomic_load_n(durable_field, __ATOMIC_RELAXED);
    while (durable < reached &&
           !__atomic_compare_exchange_n(durable_field, &durable, reached, 1, __ATOMIC_RELEASE, __ATOMIC_RELAXED)) {}
    // A waiter sets the sleepers bit before it sleeps, and sleeps only while the word is what it set:
    // either its bit is in the word this replaces (and it is woken if its wait matches), or it finds
    // the new generation. A wake of some sleepers keeps the bit for the others.
    uint32_t keep = wake == FUTEX_BITSET_MATCH_ANY ? 0 : LO_GROUP_SYNC_SLEEPERS;
    uint32_t old = __atomic_load_n(generation, __ATOMIC_SEQ_CST), next;
    do {
        next = ((old + 1) & ~LO_GROUP_SYNC_SLEEPERS) | (old & keep);
    } while (!__atomic_compare_exchange_n(generation, &old, next, 1, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
    *woke = (old & LO_GROUP_SYNC_SLEEPERS) != 0;
    return durable > reached ? durable : reached;
}

static void wake(uint32_t *generation, uint32_t mask) {
    syscall(SYS_futex, generation, FUTEX_WAKE_BITSET, 0x7fffffff, NULL, NULL, mask);
}

/// Sleeps on `*generation` while it is `seen`, for `nanoseconds` at most, woken by wakes that match
/// `bits` (FUTEX_BITSET_MATCH_ANY: every wake).
static void wait_for_generation(uint32_t *generation, uint32_t seen, uint64_t nanoseconds, uint32_t bits) {
    uint64_t deadline = lo_group_sync_now() + nanoseconds;  // FUTEX_WAIT_BITSET takes a CLOCK_MONOTONIC time
    struct timespec until = { .tv_sec = (time_t)(deadline / 1000000000u), .tv_nsec = (long)(deadline % 1000000000u) };
    uint32_t marked = seen | LO_GROUP_SYNC_SLEEPERS, current = seen;
    if (current != marked && !__atomic_compare_exchange_n(generation, &current, marked, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)
        && current != marked) return;  // a new generation already
    syscall(SYS_futex, generation, FUTEX_WAIT_BITSET, marked, &until, NULL, bits);
}

int lo_group_sync_publish(lo_group_sync *area, uint64_t reached) {
    int woke;
    publish(&area->durable, &area->generation, reached, FUTEX_BITSET_MATCH_ANY, &woke);
    if (woke) wake(&area->generation, FUTEX_BITSET_MATCH_ANY);
    return woke;
}

void lo_group_sync_wait(lo_group_sync *area, uint32_t seen, uint64_t nanoseconds) {
    wait_for_generation(&area->generation, seen, nanoseconds, FUTEX_BITSET_MATCH_ANY);
}

void lo_group_sync_mark_sleepers(lo_group_sync *area) {
    __atomic_or_fetch(&area->generation, LO_GROUP_SYNC_SLEEPERS, __ATOMIC_SEQ_CST);
}

int lo_group_sync_try_lock_writer(lo_group_sync *area) {
    return recovered(&area->writer, pthread_mutex_trylock(&area->writer), &area->writer_locked_at);
}

/// Locks `mutex`, waiting until `deadline` (CLOCK_MONOTONIC nanoseconds) at most; taken over if its holder died.
static int lock_until(pthread_mutex_t *mutex, uint64_t deadline, uint64_t *locked_at) {
    struct timespec until = { .tv_sec = (time_t)(deadline / 1000000000u), .tv_nsec = (long)(deadline % 1000000000u) };
    return recovered(mutex, pthread_mutex_clocklock(mutex, CLOCK_MONOTONIC, &until), locked_at);
}

int lo_group_sync_lock_writer(lo_group_sync *area, uint64_t deadline) {
    return lock_until(&area->writer, deadline, &area->writer_locked_at);
}

void lo_group_sync_unlock_writer(lo_group_sync *area) {
    pthread_mutex_unlock(&area->writer);
}

int lo_log_try_lock(lo_group_sync *area) {
    return recovered(&area->log_mutex, pthread_mutex_trylock(&area->log_mutex), &area->log_locked_at);
}

void lo_log_unlock(lo_group_sync *area) {
    pthread_mutex_unlock(&area->log_mutex);
}

/// The wake of a log sync that made commits through `durable` durable: every sleeper but the posters
/// (bit 0, which their waits match), and the posters whose posted commits it made durable (bit 1 + the
/// post's index). The others' commits are not appended or not durable yet: waking them for nothing
/// cost each poster a wake-up per commit when half of them wait for the next round.
static uint32_t posters_covered(lo_group_sync *area, uint64_t durable) {
    uint32_t mask = 1;
    for (int index = 0; index < LO_POST_SLOTS; index++) {
        const lo_post *post = &area->posts[index];
        uint64_t commit = lo_post_commit(post);
        if (lo_post_state(post) == LO_POST_DONE && commit != 0 && commit <= durable) mask |= 2u << index;
    }
    return mask;
}

int lo_log_publish(lo_group_sync *area, uint64_t reached) {
    int woke;
    uint64_t durable = publish(&area->log_durable, &area->log_generation, reached, 0, &woke);
    if (woke) wake(&area->log_generation, posters_covered(area, durable));
    return woke;
}

int lo_log_wake_everyone(lo_group_sync *area) {
    int woke;
    publish(&area->log_durable, &area->log_generation, 0, FUTEX_BITSET_MATCH_ANY, &woke);
    if (woke) wake(&area->log_generation, FUTEX_BITSET_MATCH_ANY);
    return woke;
}

void lo_log_wait(lo_group_sync *area, uint32_t seen, uint64_t nanoseconds) {
    wait_for_generation(&area->log_generation, seen, nanoseconds, FUTEX_BITSET_MATCH_ANY);
}

void lo_log_wait_for_posts(lo_group_sync *area, uint32_t seen, uint64_t nanoseconds, uint32_t posts) {
    wait_for_generation(&area->log_generation, seen, nanoseconds, (posts << 1) & ~1u);
}

int lo_apply_try_lock(lo_group_sync *area) {
    return recovered(&area->apply, pthread_mutex_trylock(&area->apply), &area->apply_locked_at);
}

int lo_apply_lock(lo_group_sync *area, uint64_t deadline) {
    return lock_until(&area->apply, deadline, &area->apply_locked_at);
}

void lo_apply_unlock(lo_group_sync *area) {
    pthread_mutex_unlock(&area->apply);
}
