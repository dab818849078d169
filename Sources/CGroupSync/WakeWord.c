// A futex word for threads of one process (include/CGroupSync.h, "Wake words").

#include "CGroupSync.h"

#include <linux/futex.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>

uint32_t lo_wake_word_load(const uint32_t *word) {
    return __atomic_load_n(word, __ATOMIC_SEQ_CST);
}

void lo_wake_word_wait(uint32_t *word, uint32_t seen) {
    uint32_t marked = seen | LO_WAKE_WORD_SLEEPERS, current = seen;
    if (current != marked && !__atomic_compare_exchange_n(word, &current, marked, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)
        && current != marked) return;  // bumped already
    syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, marked, NULL, NULL, 0);
}

int lo_wake_word_bump(uint32_t *word, int count) {
    // Waking them all clears the sleepers bit; waking fewer keeps it, for those left asleep.
    uint32_t keep = count == LO_WAKE_ALL ? 0 : LO_WAKE_WORD_SLEEPERS;
    uint32_t old = __atomic_load_n(word, __ATOMIC_SEQ_CST), next;
    do {
        next = ((old + 1) & ~LO_WAKE_WORD_SLEEPERS) | (old & keep);
    } while (!__atomic_compare_exchange_n(word, &old, next, 1, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
    if (!(old & LO_WAKE_WORD_SLEEPERS)) return 0;
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, count, NULL, NULL, 0);
    return 1;
}
