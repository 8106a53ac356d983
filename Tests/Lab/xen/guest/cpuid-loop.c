/*
 * cpuid-loop: the lab guests' known CPUID load.
 *
 * Executes CPUID in batches with a pause between them, forever, so that a
 * monitor listening for CPUID events (xen-access cpuid, vmi-watch) sees a
 * steady, recognisable stream: leaf 0x13371337 (the marker: a leaf no CPU
 * defines, so the events are ours and not the kernel's), sub-leaf = the batch
 * counter's low byte, then leaf 0.
 *
 * usage: cpuid-loop [BATCH [PAUSE_MS]]   (defaults: 4 CPUIDs, 100 ms pause)
 * Built on the host: gcc -static -O2 -o cpuid-loop cpuid-loop.c
 */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#define MARKER_LEAF 0x13371337u

static inline void cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
    __asm__ volatile("cpuid"
                     : "=a"(out[0]), "=b"(out[1]), "=c"(out[2]), "=d"(out[3])
                     : "a"(leaf), "c"(subleaf));
}

int main(int argc, char **argv)
{
    long batch = argc > 1 ? strtol(argv[1], NULL, 0) : 4;
    long pause_ms = argc > 2 ? strtol(argv[2], NULL, 0) : 100;
    if (batch < 1)
        batch = 1;
    if (pause_ms < 1)
        pause_ms = 1;
    struct timespec pause = { pause_ms / 1000, (pause_ms % 1000) * 1000000L };
    volatile uint32_t sink = 0;
    for (uint32_t round = 0;; round++) {
        for (long i = 0; i < batch; i++) {
            uint32_t r[4];
            cpuid(i % 2 ? 0 : MARKER_LEAF, round & 0xff, r);
            sink ^= r[0] ^ r[1] ^ r[2] ^ r[3];
        }
        nanosleep(&pause, NULL);
    }
    return (int)sink;
}
