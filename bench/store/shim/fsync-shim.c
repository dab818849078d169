// A simulated disk for store-bench on /dev/shm: fsync and fdatasync sleep SHIM_US microseconds
// (default 150) instead of flushing. With SHIM_SERIAL=1 the sleeps of all processes take turns under
// an flock on /dev/shm/fsync-shim.lock, like a disk that flushes one request at a time.
//
//   gcc -O2 -shared -fPIC -o /dev/shm/fsync-shim.so bench/store/shim/fsync-shim.c
//   SHIM_US=150 SHIM_SERIAL=1 TMPDIR=/dev/shm LD_PRELOAD=/dev/shm/fsync-shim.so store-bench commits 3 2

#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

static long shim_microseconds(void) {
    const char *text = getenv("SHIM_US");
    return text ? atol(text) : 150;
}

static int shim_flush(void) {
    static int lock = -2;
    if (lock == -2) lock = getenv("SHIM_SERIAL") ? open("/dev/shm/fsync-shim.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0666) : -1;
    if (lock >= 0) flock(lock, LOCK_EX);
    long us = shim_microseconds();
    struct timespec pause = { us / 1000000, (us % 1000000) * 1000 };
    while (nanosleep(&pause, &pause) != 0) {}
    if (lock >= 0) flock(lock, LOCK_UN);
    return 0;
}

int fsync(int fd) { (void)fd; return shim_flush(); }
int fdatasync(int fd) { (void)fd; return shim_flush(); }
