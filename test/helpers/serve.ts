/**
 * The built `chaos-node-agent serve` as a child process for tests and the demo, with the V8 flags it ships with
 * (bin/node-flags.js): listens on 127.0.0.1 with a port
 * the kernel picks (read back from its "serving" log line), stderr kept, stopped by PID (SIGTERM, SIGKILL after
 * 5 s). Started through `setpriv --pdeathsig SIGTERM`, so it shuts down (and kills its netns workers) even when
 * the process that started it dies without cleaning up.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { CLI, repoRoot } from './repo.js';

/** The V8 flags the agent ships with (bin/node-flags.js, plain JS outside dist/), so serve runs as it ships. */
async function shippedNodeFlags(): Promise<readonly string[]> {
  const mod = (await import(pathToFileURL(join(repoRoot(), 'bin', 'node-flags.js')).href)) as { NODE_FLAGS: readonly string[] };
  return mod.NODE_FLAGS;
}

/**
 * Deadlines for a loaded 2-core CI machine, where containerd and the tools answer slowly: the defaults (2 s per
 * runtime call and per tool, 5 s per namespace) cut reads there and turn a verdict unknown or a runtime down. For
 * every command of the CLI, in tests that are not about these deadlines.
 */
export const LOADED_MACHINE_DEADLINES: readonly string[] = ['--runtime-timeout', '15s', '--namespace-timeout', '30s', '--command-timeout', '20s'];

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
}

export interface ServeProcess {
  child: ChildProcess;
  pid: number;
  port: number;
  /** http://127.0.0.1:<port> */
  url: string;
  stderr: () => string;
  exited: Promise<Exit>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit. */
  stop(graceMs?: number): Promise<Exit>;
}

export interface StartServeOptions {
  /** Environment of the child (default: PATH only). */
  env?: NodeJS.ProcessEnv;
  /** How long to wait for the "serving" line (default 60 s: a loaded 2-core machine starts node slowly). */
  startTimeoutMs?: number;
  /** Node flags added after the shipped ones (e.g. a measurement probe). */
  nodeArgs?: string[];
}

export async function startServe(args: string[], opts: StartServeOptions = {}): Promise<ServeProcess> {
  const child = spawn('setpriv', ['--pdeathsig', 'SIGTERM', '--', process.execPath, ...(await shippedNodeFlags()), ...(opts.nodeArgs ?? []), CLI, 'serve', '--listen', '127.0.0.1:0', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: opts.env ?? { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    if (err.length < 4 << 20) err += d.toString('utf8');
  });
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() }));
  });
  const stop = async (graceMs = 5_000): Promise<Exit> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(t);
      }
    }
    return exited;
  };
  const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
  for (;;) {
    const m = /"listen":"127\.0\.0\.1:(\d+)"/.exec(err);
    if (m) {
      const port = Number(m[1]);
      return { child, pid: child.pid!, port, url: `http://127.0.0.1:${port}`, stderr: () => err, exited, stop };
    }
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      await stop(500);
      throw new Error(`serve did not start (exit ${child.exitCode ?? child.signalCode}): ${err}`);
    }
    await sleep(20);
  }
}
