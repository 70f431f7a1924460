/**
 * Summarise V8 CPU profiles (`node --cpu-prof`, one .cpuprofile per thread) by package: which package's code was
 * running, at start-up included, so that the import cost of grpc-js, protobufjs, pino... is visible per run.
 *
 * A sample goes to the package of the innermost frame whose script belongs to a package (node_modules/<pkg>, or
 * `agent` for the compiled agent and the launcher): the time node's module loader spends compiling and evaluating
 * a package's files while that package's code requires them counts for the package. V8's pseudo-frames at the leaf
 * stay apart: `(garbage collector)`, `(program)` (native work outside JavaScript), `(idle)` (waiting: wall, no CPU).
 * A sample with no package frame at all is `node` (bootstrap, the ESM loader's own work, node:* modules).
 * Pure: takes the parsed JSON, returns milliseconds.
 */
import { AgentError } from '../agent/errors.js';

export interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

export interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Milliseconds per bucket, largest first, and the profile's span. */
export interface ProfileSummary {
  totalMs: number;
  buckets: { name: string; ms: number }[];
}

const PSEUDO = new Map([
  ['(garbage collector)', 'gc'],
  ['(program)', 'program'],
  ['(idle)', 'idle'],
]);

/** Package of a script URL: `@scope/name` or `name` after the last node_modules/, `agent` for dist/ and bin/, else null. */
export function packageOf(url: string): string | null {
  if (!url) return null;
  const i = url.lastIndexOf('/node_modules/');
  if (i >= 0) {
    const rest = url.slice(i + '/node_modules/'.length).split('/');
    const first = rest[0] ?? '';
    if (first.startsWith('@')) return rest[1] ? `${first}/${rest[1]}` : first;
    return first || null;
  }
  if (url.startsWith('node:')) return null;
  if (/\/(dist\/agent|dist\/bundle|bin)\//.test(url)) return 'agent';
  if (url.startsWith('file://') || url.startsWith('/')) return 'other';
  return null;
}

function isProfile(v: unknown): v is CpuProfile {
  const p = v as CpuProfile;
  return typeof v === 'object' && v !== null && Array.isArray(p.nodes) && Array.isArray(p.samples) && Array.isArray(p.timeDeltas) && typeof p.endTime === 'number';
}

/** Bucket every sample of one profile (see the module comment). */
export function summariseProfile(raw: unknown): ProfileSummary {
  if (!isProfile(raw)) throw new AgentError('BENCH_PROFILE', 'not a V8 CPU profile (nodes, samples, timeDeltas, endTime)');
  const byId = new Map<number, CpuProfileNode>();
  const parent = new Map<number, number>();
  for (const n of raw.nodes) byId.set(n.id, n);
  for (const n of raw.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const bucketOf = new Map<number, string>();
  const bucket = (leaf: number): string => {
    const known = bucketOf.get(leaf);
    if (known !== undefined) return known;
    const fn = byId.get(leaf)?.callFrame.functionName ?? '';
    let name = PSEUDO.get(fn) ?? 'node';
    if (!PSEUDO.has(fn)) {
      for (let id: number | undefined = leaf, depth = 0; id !== undefined && depth < 10_000; id = parent.get(id), depth++) {
        const pkg = packageOf(byId.get(id)?.callFrame.url ?? '');
        if (pkg !== null) {
          name = pkg;
          break;
        }
      }
    }
    bucketOf.set(leaf, name);
    return name;
  };
  // Sample i lasts until the next sample's timestamp (the last one until endTime), as DevTools counts it.
  const stamps: number[] = [];
  let t = raw.startTime;
  for (const d of raw.timeDeltas) stamps.push((t += d));
  const ms = new Map<string, number>();
  for (let i = 0; i < raw.samples.length; i++) {
    const next = i + 1 < stamps.length ? stamps[i + 1]! : raw.endTime;
    const us = Math.max(0, next - (stamps[i] ?? next));
    const b = bucket(raw.samples[i]!);
    ms.set(b, (ms.get(b) ?? 0) + us / 1000);
  }
  return { totalMs: (raw.endTime - raw.startTime) / 1000, buckets: sortBuckets(ms) };
}

/** Add summaries (several threads or runs); `scale` divides (1/runs gives a mean). */
export function mergeSummaries(list: ProfileSummary[], scale = 1): ProfileSummary {
  const ms = new Map<string, number>();
  let total = 0;
  for (const s of list) {
    total += s.totalMs;
    for (const b of s.buckets) ms.set(b.name, (ms.get(b.name) ?? 0) + b.ms);
  }
  for (const [k, v] of ms) ms.set(k, v * scale);
  return { totalMs: total * scale, buckets: sortBuckets(ms) };
}

function sortBuckets(ms: Map<string, number>): { name: string; ms: number }[] {
  return [...ms].map(([name, v]) => ({ name, ms: Math.round(v * 10) / 10 })).sort((a, b) => b.ms - a.ms || a.name.localeCompare(b.name));
}
