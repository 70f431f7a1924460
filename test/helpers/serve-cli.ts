/** The built CLI's `serve` in a child process, for tests: waits for its "serving" log line and returns the port. */
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

const CLI = new URL('../../bin/chaos-node-agent.js', import.meta.url).pathname;

export interface Served {
  child: ChildProcess;
  port: number;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

/** `chaos-node-agent serve --listen 127.0.0.1:0 ARGS...` with only PATH in its environment (plus `env`). */
export async function spawnServe(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Served> {
  const child = spawn(process.execPath, [CLI, 'serve', '--listen', '127.0.0.1:0', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...env },
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString('utf8');
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() }));
  });
  // Generous: on a loaded 2-core machine node's start alone can take seconds.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const m = /"listen":"127\.0\.0\.1:(\d+)"/.exec(err);
    if (m) return { child, port: Number(m[1]), stderr: () => err, exited };
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`serve did not start: ${err}`);
    await sleep(20);
  }
}
