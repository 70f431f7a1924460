// V8 flags and environment the agent ships with, in one place: the image's ENTRYPOINT passes the flags to node
// (`node --max-semi-space-size=1 --max-old-space-size=256 --no-memory-reducer --single-threaded-gc
// /app/bin/chaos-node-agent.js`), the
// image and the DaemonSet set the environment, and the benchmark launches `serve` with both, so it measures the agent
// as it ships (test/bin/node-flags.test.ts checks they all agree). They must be given when the process starts: V8
// sizes its heap when the isolate is created and glibc reads its malloc tunables once, so setting them from here would
// do nothing.
//
// --max-semi-space-size=1: the young generation's two semi-spaces are capped at 1 MB (2 MB of new space, what the
// reader threads have: agent/worker-limits.ts) instead of V8's 16 MB (32 MB). The agent keeps ~15 MB of live heap
// and a collection whose namespaces replay unchanged allocates little. 16 -> 4 MB took VmRSS at 30 pods from ~112 to
// ~90 MB (bench/serve-memory.ts); 4 -> 1 MB (2026-12-02, 110 held mesh pods, serve as the bench runs it, 2 pairs each
// way): VmHWM 97.1 / 98.9 (4) -> 93.3 / 95.9 (2) -> 89.9 / 88.5 MiB (1, paired with 2: 94.0 / 93.0), closed-loop p99
// and requests unchanged there; the scavenges' time (--trace-gc, every isolate, 60 s at a 2 s interval) 406 -> 442
// -> 494 ms. At 110 held chaos pods (37 KB answers, 2 pairs) serve's CPU per idle 2 s window was ~14% higher with 1
// than with 4 (229 / 220 against 201 / 192 ms, the bench's probe included) and the closed loop got fewer requests
// through (56,777 / 82,141 against 144,061 / 115,094 in 10 s; p99 25 / 22 against 15 / 18 ms): the price of the
// memory target (README, Latest run). At a 15 s interval that is ~1 ms of CPU a second.
//
// --max-old-space-size=256: the heap limit node already gives the agent in the DaemonSet. Without the flag node sizes
// V8's heap from its cgroup's memory limit (320 Mi: old generation 256 MB) or, without one, from the machine's memory
// (2-4 GB above 8 GB). V8 lets the old generation grow by a factor of the live heap before it marks again, and that
// factor follows the limit: ~1.3 at 256 MB, 4 from 2 GB. So the benchmark's serve, started without a memory limit,
// carried 50-65 MB of main heap (~16 MB live) between full collections where the shipped agent carries 30-35 MB:
// at 110 pods VmRSS median 149.5 MB unpinned, 122.9 MB in a 320 Mi cgroup, 122.5 MB with this flag (and serve's CPU
// per collection 385, 405, 404 ms: one more mark-compact every ~5 collections). Pinned, the agent keeps the heap
// it has in the DaemonSet whatever the node's memory, and the benchmark measures it as shipped
// (test/bin/node-flags-cgroup.test.ts). Raise it with the DaemonSet's memory limit.
//
// --no-memory-reducer: V8's memory reducer runs up to three extra full GCs once the agent goes idle after a
// collection, and those GCs keep no map alive that only optimized code still points to (V8 otherwise retains such
// maps for two GCs). The agent builds some objects only during a collection, so after each reducing GC the optimized
// code that embedded their maps was thrown away ("marking dependent code ... reason: weak objects" in --trace-deopt,
// 36 functions in 20 collections at 110 pods, nextTick and collectPodFacts among them), then run unoptimized and
// compiled again by V8's threads in the next collection. Without it, at 110 chaos pods (2026-11-30): 0 such deopts in
// 20 collections; serve's whole-process CPU with a 2 s interval 68 / 63 -> 55 / 51 ms/s, VmRSS mean 106 -> 111-114 MB;
// with the 15 s interval (after 80 warm-up collections, in-process, CPU per collection idle included) 128.1 -> 116.9
// ms, and serve's VmRSS unchanged (95 MB mean). README "V8's memory reducer".
//
// --single-threaded-gc: V8's garbage collection runs on the thread whose heap it is, instead of also on V8's 4 platform
// threads (parallel scavenges, concurrent marking and sweeping). On a node with few cores those threads took the
// event loop's CPU while it waited for them: at 110 held chaos pods on 2 vCPUs (2026-12-02), with serve's other
// threads niced (agent/thread-priority.ts lowerOtherThreads), interleaved runs of 40 idle 2 s windows had 0 / 0
// windows with a loop block of 10 ms or more against 2 / 2 with V8's helpers (threads niced in both), and 2 / 1 / 1
// against 6 / 2 / 2 for the agent as it shipped before; serve's CPU per window 187-238 against 214-245 ms (on two
// cores the helpers' parallel work costs more CPU than it saves). A full GC's pause is then the main thread's alone:
// 3-5 ms at serve's ~20 MB heap in those runs. Every isolate: the reader threads' GCs then stay on their own threads
// too. Its price is memory: at 110 held mesh pods VmHWM 94.1 / 97.5 MiB with it against 93.7 / 90.6 without (2
// pairs), the heap swept later on the main thread. README "Event-loop blocks".
//
// The semi-space and old-space flags are the main isolate's only: V8 would give them precedence over every worker's
// own limits, so agent/worker-limits.ts clears them before the first worker starts (workers then get their
// resourceLimits). --no-memory-reducer is for every isolate: the reader threads run the same kind of code.
export const NODE_FLAGS = Object.freeze(['--max-semi-space-size=1', '--max-old-space-size=256', '--no-memory-reducer', '--single-threaded-gc']);

// glibc malloc tunables (read once at process start). MALLOC_ARENA_MAX=2: without it every thread that allocates
// (main, 2 reader threads, 4 V8 platform threads, libuv's) may get its own 64 MB arena, each keeping the memory it
// freed. MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ fixed at 128 KiB: glibc otherwise raises both (up to
// 32/64 MB) after large blocks are freed, so later large blocks stay in the arenas instead of going back to the
// kernel. Together 4-6 MB less VmRSS at 110 pods for no measurable CPU (within the run-to-run noise of +-30 ms).
export const MALLOC_ENV = Object.freeze({
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '131072',
  MALLOC_TRIM_THRESHOLD_: '131072',
});
