// Keeps every CPU out of its idle halt without taking time from anything else: one SCHED_IDLE
// process per CPU that spins, for SECONDS. On a VM whose idle CPUs halt (no halt polling), this shows
// how much of a wake-up's latency is waking a halted virtual CPU (run wake-latency beside it).
//
//   gcc -O2 bench/tools/idle-spinner.c -o /tmp/idle-spinner
//   /tmp/idle-spinner 5 & sleep 0.2; /tmp/wake-latency threads two

#define _GNU_SOURCE
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int seconds = argc > 1 ? atoi(argv[1]) : 5;
    struct sched_param parameters = {0};
    if (sched_setscheduler(0, SCHED_IDLE, &parameters) != 0) return 1;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    for (long i = 1; i < cpus; i++) {
        if (fork() == 0) break;
    }
    alarm((unsigned)seconds);
    for (;;) __builtin_ia32_pause();
}
