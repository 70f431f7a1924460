/**
 * The built CLI's `serve` as a real child process (bin/chaos-node-agent.js, so dist/ must be built): started on
 * 127.0.0.1 with an ephemeral port, its stderr (JSON log lines) kept, its exit awaited; helpers to scrape it and
 * to wait for its next published collection.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { get } from '../server/http-client.js';
import { valueOf } from './metrics-lint.js';

export const CLI = new URL('../../bin/chaos-node-agent.js', import.meta.url).pathname;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Date.now() when it exited. */
  at: number;
}

export interface ServeProcess {
  child: ChildProcess;
  pid: number;
  port: number;
  stderr(): string;
  exited: Promise<Exit>;
  /** GET /metrics (text). */
  metrics(): Promise<string>;
  /** GET /debug/pods, parsed. */
  pods(): Promise<PodDoc[]>;
  /**
   * Wait for a collection published after `after` (chaos_daemon_last_collection_timestamp_seconds, Unix seconds)
   * whose metrics satisfy `until`; resolves with that exposition.
   */
  collection(after: number, until?: (text: string) => boolean, timeoutMs?: number): Promise<string>;
  /** SIGKILL if still running (teardown). */
  kill(): void;
}

/** The part of a /debug/pods entry the fault tests look at. */
export interface PodDoc {
  namespace: string;
  name: string;
  runtime: string;
  chaos: { verdict: string; findings: string[] };
  errors: string[];
  sources: { source: string; status: string; reason?: string; message?: string }[];
  notes?: string[];
}

/** Last collection end time in an exposition (0 before the first). */
export function collectedAt(text: string): number {
  return valueOf(text, 'chaos_daemon_last_collection_timestamp_seconds') ?? 0;
}

export async function startServe(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<ServeProcess> {
  const child = spawn(process.execPath, [CLI, 'serve', '--listen', '127.0.0.1:0', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...opts.env },
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString('utf8');
  });
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() }));
  });
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const deadline = Date.now() + 20_000;
  let port = 0;
  for (;;) {
    const m = /"listen":"127\.0\.0\.1:(\d+)"/.exec(err);
    if (m) {
      port = Number(m[1]);
      break;
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      kill();
      throw new Error(`serve did not start: ${err}`);
    }
    await sleep(20);
  }
  const metrics = async (): Promise<string> => {
    const r = await get(port, '/metrics');
    if (r.status !== 200) throw new Error(`/metrics answered ${r.status}: ${r.text.slice(0, 200)}`);
    return r.text;
  };
  const pods = async (): Promise<PodDoc[]> => {
    const r = await get(port, '/debug/pods');
    if (r.status !== 200) throw new Error(`/debug/pods answered ${r.status}: ${r.text.slice(0, 200)}`);
    return (JSON.parse(r.text) as { pods: PodDoc[] }).pods;
  };
  const collection = async (after: number, until: (text: string) => boolean = () => true, timeoutMs = 20_000): Promise<string> => {
    const end = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      const r = await get(port, '/metrics');
      if (r.status === 200) {
        last = r.text;
        if (collectedAt(last) > after && until(last)) return last;
      }
      if (Date.now() > end) throw new Error(`no collection after ${after} matching the condition within ${timeoutMs} ms; last metrics:\n${last.split('\n').filter((l) => l.startsWith('chaos_daemon_runtime_up') || l.startsWith('chaos_daemon_pod_verdict')).join('\n')}\nstderr:\n${err.slice(-3000)}`);
      await sleep(50);
    }
  };
  return { child, pid: child.pid!, port, stderr: () => err, exited, metrics, pods, collection, kill };
}

/** The entry of one pod in /debug/pods (throws when absent). */
export function podIn(pods: PodDoc[], namespace: string, name: string): PodDoc {
  const p = pods.find((x) => x.namespace === namespace && x.name === name);
  if (!p) throw new Error(`pod ${namespace}/${name} not in /debug/pods (${pods.map((x) => `${x.namespace}/${x.name}`).join(', ')})`);
  return p;
}
