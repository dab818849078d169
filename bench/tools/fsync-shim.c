// A fast "disk" for store-bench: fsync and fdatasync sleep SHIM_US microseconds (default 100) and
// return, so that commit rates can be compared with a steady fsync rate (put the files on /dev/shm).
//
//   gcc -shared -fPIC -O2 bench/tools/fsync-shim.c -o /tmp/fsync-shim.so
//   SHIM_US=50 TMPDIR=/dev/shm LD_PRELOAD=/tmp/fsync-shim.so .build/release/store-bench commits 3 2
//
// nanosleep overshoots: SHIM_US=50 gives a probe of about 7,000 fsyncs per second, 100 about 5,000.

#define _GNU_SOURCE
#include <stdlib.h>
#include <time.h>

static long delayNanoseconds = -1;

static void sleepInstead(void) {
    if (delayNanoseconds < 0) {
        const char *text = getenv("SHIM_US");
        delayNanoseconds = (text ? atol(text) : 100) * 1000;
    }
    struct timespec delay = {0, delayNanoseconds};
    nanosleep(&delay, 0);
}

int fsync(int fd) { (void)fd; sleepInstead(); return 0; }
int fdatasync(int fd) { (void)fd; sleepInstead(); return 0; }
