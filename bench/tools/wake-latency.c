// The cost of waking a sleeping thread or process: two of them pass a byte back and forth through
// pipes, 100,000 times; each round trip is two wake-ups.
//
//   gcc -O2 -pthread bench/tools/wake-latency.c -o /tmp/wake-latency
//   /tmp/wake-latency threads one; /tmp/wake-latency processes one; /tmp/wake-latency threads two
//
// one: both pinned to CPU 0 (each wake-up is a switch on that CPU); two: the scheduler places them
// (on an idle machine, on different CPUs: each wake-up must wake the other CPU).

#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { roundTrips = 100000 };
static int there[2], back[2], pinned;

static void pinIfAsked(void) {
    if (!pinned) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    sched_setaffinity(0, sizeof set, &set);
}

static void *echo(void *unused) {
    (void)unused;
    pinIfAsked();
    char byte;
    for (int i = 0; i < roundTrips; i++) {
        if (read(there[0], &byte, 1) != 1 || write(back[1], &byte, 1) != 1) break;
    }
    return NULL;
}

int main(int argc, char **argv) {
    int processes = argc > 1 && strcmp(argv[1], "processes") == 0;
    pinned = argc < 3 || strcmp(argv[2], "two") != 0;
    if (pipe(there) || pipe(back)) return 1;
    pinIfAsked();
    pthread_t thread;
    pid_t child = 0;
    if (processes) {
        child = fork();
        if (child == 0) { echo(NULL); _exit(0); }
    } else {
        pthread_create(&thread, NULL, echo, NULL);
    }
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    char byte = 'x';
    for (int i = 0; i < roundTrips; i++) {
        if (write(there[1], &byte, 1) != 1 || read(back[0], &byte, 1) != 1) return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    if (processes) waitpid(child, NULL, 0); else pthread_join(thread, NULL);
    double micros = ((end.tv_sec - start.tv_sec) * 1e9 + (end.tv_nsec - start.tv_nsec)) / 1e3 / roundTrips;
    printf("%s, %s: %.1f µs per round trip (two wake-ups)\n", processes ? "processes" : "threads",
           pinned ? "one CPU" : "placed by the scheduler", micros);
    return 0;
}
