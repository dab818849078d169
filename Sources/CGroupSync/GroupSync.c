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
    pthread_mutexattr_destroy(&attributes);
    if (error) return error;
    area->size = sizeof *area;
    __atomic_store_n(&area->magic, LO_GROUP_SYNC_MAGIC, __ATOMIC_RELEASE);
    return 0;
}

int lo_group_sync_is_valid(const lo_group_sync *area) {
    return __atomic_load_n(&area->magic, __ATOMIC_ACQUIRE) == LO_GROUP_SYNC_MAGIC && area->size == sizeof *area;
}

/// After a lock call: a mutex whose holder died is made consistent again (1). Neither mutex guards
/// anything the dead holder could have left half-done: `durable` only ever rises, to a value read
/// before a sync that completed, and the writers' turn only orders the calls on SQLite's own lock.
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

int lo_group_sync_publish(lo_group_sync *area, uint64_t reached) {
    uint64_t durable = __atomic_load_n(&area->durable, __ATOMIC_RELAXED);
    while (durable < reached &&
           !__atomic_compare_exchange_n(&area->durable, &durable, reached, 1, __ATOMIC_RELEASE, __ATOMIC_RELAXED)) {}
    // A waiter sets the sleepers bit before it sleeps, and sleeps only while the word is what it set:
    // either its bit is in the word this replaces (and it is woken), or it finds the new generation.
    uint32_t old = __atomic_load_n(&area->generation, __ATOMIC_SEQ_CST), next;
    do {
        next = (old + 1) & ~LO_GROUP_SYNC_SLEEPERS;
    } while (!__atomic_compare_exchange_n(&area->generation, &old, next, 1, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
    if (!(old & LO_GROUP_SYNC_SLEEPERS)) return 0;
    syscall(SYS_futex, &area->generation, FUTEX_WAKE, 0x7fffffff, NULL, NULL, 0);
    return 1;
}

void lo_group_sync_wait(lo_group_sync *area, uint32_t seen, uint64_t nanoseconds) {
    struct timespec timeout = { .tv_sec = (time_t)(nanoseconds / 1000000000u), .tv_nsec = (long)(nanoseconds % 1000000000u) };
    uint32_t marked = seen | LO_GROUP_SYNC_SLEEPERS, current = seen;
    if (current != marked && !__atomic_compare_exchange_n(&area->generation, &current, marked, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)
        && current != marked) return;  // a new generation already
    syscall(SYS_futex, &area->generation, FUTEX_WAIT, marked, &timeout, NULL, 0);
}

void lo_group_sync_mark_sleepers(lo_group_sync *area) {
    __atomic_or_fetch(&area->generation, LO_GROUP_SYNC_SLEEPERS, __ATOMIC_SEQ_CST);
}

int lo_group_sync_try_lock_writer(lo_group_sync *area) {
    return recovered(&area->writer, pthread_mutex_trylock(&area->writer), &area->writer_locked_at);
}

int lo_group_sync_lock_writer(lo_group_sync *area, uint64_t deadline) {
    struct timespec until = { .tv_sec = (time_t)(deadline / 1000000000u), .tv_nsec = (long)(deadline % 1000000000u) };
    return recovered(&area->writer, pthread_mutex_clocklock(&area->writer, CLOCK_MONOTONIC, &until), &area->writer_locked_at);
}

void lo_group_sync_unlock_writer(lo_group_sync *area) {
    pthread_mutex_unlock(&area->writer);
}
