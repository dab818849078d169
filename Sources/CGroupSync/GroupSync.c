// The robust mutex and the futex of the shared sync page (include/CGroupSync.h).

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
    pthread_mutexattr_destroy(&attributes);
    if (error) return error;
    area->size = sizeof *area;
    __atomic_store_n(&area->magic, LO_GROUP_SYNC_MAGIC, __ATOMIC_RELEASE);
    return 0;
}

int lo_group_sync_is_valid(const lo_group_sync *area) {
    return __atomic_load_n(&area->magic, __ATOMIC_ACQUIRE) == LO_GROUP_SYNC_MAGIC && area->size == sizeof *area;
}

int lo_group_sync_try_lock(lo_group_sync *area) {
    int error = pthread_mutex_trylock(&area->mutex);
    if (error == EOWNERDEAD) {
        // The page holds nothing the dead holder could have left half-done: `durable` only ever rises,
        // to a value read before a sync that completed.
        error = pthread_mutex_consistent(&area->mutex);
        if (error) {
            pthread_mutex_unlock(&area->mutex);
            return error;
        }
        error = 1;
    }
    if (error == 0 || error == 1) __atomic_store_n(&area->locked_at, lo_group_sync_now(), __ATOMIC_RELAXED);
    return error;
}

void lo_group_sync_unlock(lo_group_sync *area) {
    pthread_mutex_unlock(&area->mutex);
}

void lo_group_sync_publish(lo_group_sync *area, uint64_t reached) {
    uint64_t durable = __atomic_load_n(&area->durable, __ATOMIC_RELAXED);
    while (durable < reached &&
           !__atomic_compare_exchange_n(&area->durable, &durable, reached, 1, __ATOMIC_RELEASE, __ATOMIC_RELAXED)) {}
    __atomic_add_fetch(&area->generation, 1, __ATOMIC_SEQ_CST);
    // A waiter counts itself before it sleeps, and sleeps only while the generation is what it saw:
    // either it sees the new generation, or this sees it counted.
    if (__atomic_load_n(&area->waiters, __ATOMIC_SEQ_CST) > 0)
        syscall(SYS_futex, &area->generation, FUTEX_WAKE, 0x7fffffff, NULL, NULL, 0);
}

void lo_group_sync_wait(lo_group_sync *area, uint32_t seen, uint64_t nanoseconds) {
    struct timespec timeout = { .tv_sec = (time_t)(nanoseconds / 1000000000u), .tv_nsec = (long)(nanoseconds % 1000000000u) };
    __atomic_add_fetch(&area->waiters, 1, __ATOMIC_SEQ_CST);
    syscall(SYS_futex, &area->generation, FUTEX_WAIT, seen, &timeout, NULL, 0);
    __atomic_sub_fetch(&area->waiters, 1, __ATOMIC_SEQ_CST);
}
