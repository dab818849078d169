// How many durable writes per second the disk completes when several threads each write 512 bytes
// and fdatasync, at once: does it overlap syncs, or take them one at a time?
//
//   gcc -O2 -pthread bench/tools/parallel-syncs.c -o /tmp/parallel-syncs
//   mkdir -p /work/tmp/p && cd /work/tmp/p && /tmp/parallel-syncs 1 same; /tmp/parallel-syncs 8 same; /tmp/parallel-syncs 8 own
//
// THREADS: how many; same: all write one file (each its own 1 MB region), own: a file each.

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int descriptors[64];
static long counts[64];
static volatile int stop;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void *writeAndSync(void *argument) {
    long index = (long)argument, n = 0;
    char record[512];
    memset(record, (int)index, sizeof record);
    while (!stop) {
        pwrite(descriptors[index], record, sizeof record, index * 1048576 + (n % 1000) * 512);
        fdatasync(descriptors[index]);
        n++;
    }
    counts[index] = n;
    return NULL;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1, same = argc < 3 || strcmp(argv[2], "own") != 0;
    if (threads < 1 || threads > 64) return 1;
    static char zeros[1 << 16];
    for (int i = 0; i < threads; i++) {
        char path[32];
        snprintf(path, sizeof path, "syncs-%d", same ? 0 : i);
        descriptors[i] = open(path, O_RDWR | O_CREAT, 0644);
        if (descriptors[i] < 0) { perror(path); return 1; }
        for (int block = 0; block < 128; block++) pwrite(descriptors[i], zeros, sizeof zeros, (off_t)block * sizeof zeros);
        fsync(descriptors[i]);  // preallocated: a sync writes data, not the file's size
    }
    pthread_t workers[64];
    double start = now();
    for (long i = 0; i < threads; i++) pthread_create(&workers[i], NULL, writeAndSync, (void *)i);
    sleep(2);
    stop = 1;
    long total = 0;
    for (int i = 0; i < threads; i++) { pthread_join(workers[i], NULL); total += counts[i]; }
    printf("%d threads, %s: %.0f durable writes/s\n", threads, same ? "one file" : "a file each", total / (now() - start));
    return 0;
}
