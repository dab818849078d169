// Could commits of several processes to one preallocated log overlap their syncs? N processes append
// a record each under a shared mutex (the writers' turn), then sync outside it and raise `durable` to
// the head they read before the sync: no group commit, no wake-ups. Where each record goes:
//   packed   back to back at the log's end (records share pages)
//   paged    at the log's end, each starting a page of its own
//   adjacent page (k * N + process): the processes' pages interleaved, no mutex
//   regions  a 1 MB region per process, its 256 pages in turn, no mutex
//
//   gcc -O2 -pthread bench/tools/log-lanes.c -o /tmp/log-lanes
//   mkdir -p /work/tmp/p && cd /work/tmp/p && for m in packed paged adjacent regions; do /tmp/log-lanes 8 $m; done
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct shared { pthread_mutex_t turn; long end; _Atomic long head, durable, total; volatile int stop; };

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: log-lanes PROCESSES packed|paged|adjacent|regions [RECORD_BYTES]\n"); return 1; }
    int n = atoi(argv[1]), record = argc > 3 ? atoi(argv[3]) : 300;
    const char *mode = argv[2];
    int packed = !strcmp(mode, "packed"), paged = !strcmp(mode, "paged");
    int adjacent = !strcmp(mode, "adjacent"), regions = !strcmp(mode, "regions");
    if (n < 1 || n > 64 || record < 1 || record > 4096 || !(packed || paged || adjacent || regions)) return 1;
    int fd = open("lanes-log", O_RDWR | O_CREAT | O_TRUNC, 0644);
    static char zeros[1 << 20];
    for (int block = 0; block < 256; block++) pwrite(fd, zeros, sizeof zeros, (off_t)block << 20);
    fsync(fd);  // preallocated: a sync writes data, not the file's size
    struct shared *s = mmap(0, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pthread_mutexattr_t attributes;
    pthread_mutexattr_init(&attributes);
    pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(&s->turn, &attributes);
    double start = now();
    for (int i = 0; i < n; i++) if (fork() == 0) {
        char bytes[4096];
        memset(bytes, i, sizeof bytes);
        long mine = 0;
        while (!s->stop) {
            if (packed || paged) {
                pthread_mutex_lock(&s->turn);
                long at = s->end % (255L << 20);
                pwrite(fd, bytes, record, at);
                s->end = at + (paged ? (record + 4095) & ~4095L : record);
                atomic_fetch_add(&s->head, 1);
                pthread_mutex_unlock(&s->turn);
            } else {
                long at = adjacent ? ((mine % 4096) * n + i) * 4096L : (long)i * 1048576 + (mine % 256) * 4096;
                pwrite(fd, bytes, record, at);
                atomic_fetch_add(&s->head, 1);
            }
            long head = atomic_load(&s->head);
            fdatasync(fd);
            long durable = atomic_load(&s->durable);
            while (durable < head && !atomic_compare_exchange_weak(&s->durable, &durable, head)) {}
            mine++;
        }
        atomic_fetch_add(&s->total, mine);
        _exit(0);
    }
    sleep(2);
    s->stop = 1;
    while (wait(0) > 0) {}
    printf("%d processes, %s, %d-byte records: %.0f durable commits/s\n", n, mode, record, s->total / (now() - start));
    return 0;
}
