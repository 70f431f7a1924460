/**
 * Reading a running `serve` (helpers/serve.ts) the way the fault tests need: its metrics, its /debug/pods document
 * (started with --debug-insecure), and waiting for its next published collection.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { get } from '../server/http-client.js';
import { valueOf } from './metrics-lint.js';
import type { ServeProcess } from './serve.js';

/** The part of a /debug/pods entry the fault tests look at. */
export interface PodDoc {
  namespace: string;
  name: string;
  runtime: string;
  chaos: { verdict: string; findings: string[] };
  errors: string[];
  sources: { source: string; status: string; reason?: string; message?: string }[];
  notes?: string[];
  proc?: { sources: Record<string, { complete: boolean; errors: { reason: string; message: string }[] }> };
}

/** Last collection end time in an exposition, Unix seconds (0 before the first). */
export function collectedAt(text: string): number {
  return valueOf(text, 'chaos_daemon_last_collection_timestamp_seconds') ?? 0;
}

/** GET /metrics (text); throws unless 200. */
export async function scrape(s: ServeProcess): Promise<string> {
  const r = await get(s.port, '/metrics');
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}: ${r.text.slice(0, 200)}`);
  return r.text;
}

/** GET /debug/pods, parsed (serve started with --debug-insecure). */
export async function debugPods(s: ServeProcess): Promise<PodDoc[]> {
  const r = await get(s.port, '/debug/pods');
  if (r.status !== 200) throw new Error(`/debug/pods answered ${r.status}: ${r.text.slice(0, 200)}`);
  return (JSON.parse(r.text) as { pods: PodDoc[] }).pods;
}

/** When the collection of an exposition started, Unix seconds (its end minus its duration). */
export function startedAt(text: string): number {
  return collectedAt(text) - (valueOf(text, 'chaos_daemon_collection_duration_seconds') ?? 0);
}

/**
 * Wait for a collection published after `after` (Unix seconds) whose metrics satisfy `until`; resolves with that
 * exposition. The default deadline is for a loaded 2-core CI machine (a collection against real daemons there can
 * take many seconds); a test that needs a collection to be prompt asserts its duration, not this deadline.
 */
export async function nextCollection(s: ServeProcess, after: number, until: (text: string) => boolean = () => true, timeoutMs = 60_000): Promise<string> {
  const all = await collectionsUntil(s, after, until, timeoutMs);
  return all[all.length - 1]!;
}

/**
 * Every collection published after `after` (Unix seconds), in order, up to the first whose metrics satisfy `until`
 * (polled every 50 ms: collections are at least an interval apart, so none is missed).
 */
export async function collectionsUntil(s: ServeProcess, after: number, until: (text: string) => boolean, timeoutMs = 60_000): Promise<string[]> {
  const end = Date.now() + timeoutMs;
  const seen: string[] = [];
  let last = '';
  for (;;) {
    const r = await get(s.port, '/metrics');
    if (r.status === 200) {
      last = r.text;
      const at = collectedAt(last);
      if (at > after && (seen.length === 0 || at > collectedAt(seen[seen.length - 1]!))) {
        seen.push(last);
        if (until(last)) return seen;
      }
    }
    if (Date.now() > end) {
      const shown = last.split('\n').filter((l) => l.startsWith('chaos_daemon_runtime_up') || l.startsWith('chaos_daemon_pod_verdict')).join('\n');
      throw new Error(`no collection after ${after} matching the condition within ${timeoutMs} ms; last metrics:\n${shown}\nstderr:\n${s.stderr().slice(-3000)}`);
    }
    await sleep(50);
  }
}

/** The entry of one pod in /debug/pods (throws when absent). */
export function podIn(pods: PodDoc[], namespace: string, name: string): PodDoc {
  const p = pods.find((x) => x.namespace === namespace && x.name === name);
  if (!p) throw new Error(`pod ${namespace}/${name} not in /debug/pods (${pods.map((x) => `${x.namespace}/${x.name}`).join(', ')})`);
  return p;
}
