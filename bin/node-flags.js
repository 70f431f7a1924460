// V8 flags the agent ships with, in one place: the image's ENTRYPOINT passes them to node
// (`node --max-semi-space-size=4 /app/bin/chaos-node-agent.js`) and the benchmark launches `serve` with them, so
// it measures the agent as it ships (test/bin/node-flags.test.ts checks both agree). They must be given on the
// node command line: V8 sizes its heap when the process starts, so setting them from here would do nothing.
//
// --max-semi-space-size=4: the young generation's two semi-spaces are capped at 4 MB (8 MB of new space) instead
// of V8's 16 MB (32 MB). The agent keeps ~15 MB of live heap; at 30 pods this took VmRSS from ~112 MB to ~90 MB
// for a few more scavenges per collection (bench/serve-memory.ts). The main isolate's only: V8 would give it
// precedence over every worker's own young-generation limit, so agent/worker-limits.ts clears it before the first
// worker starts (workers then get 1 MB semi-spaces, their resourceLimits).
export const NODE_FLAGS = Object.freeze(['--max-semi-space-size=4']);
