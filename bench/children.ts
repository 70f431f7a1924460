/**
 * The bench's long-lived child processes (serve, the floor's static server): tracked while alive so that the bench's
 * emergency cleanup (run.ts, on SIGINT/SIGTERM or a failure) can kill them, and stopped by PID: SIGTERM, then
 * SIGKILL after 5 s.
 */
import type { ChildProcess } from 'node:child_process';

/** Children alive right now (for the bench's emergency cleanup). */
export const liveChildren = new Set<ChildProcess>();

/** Adds `child` to liveChildren until it exits. */
export function track(child: ChildProcess): ChildProcess {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  return child;
}

/** SIGTERM, SIGKILL after 5 s; resolves once the child has exited (at once if it already had). */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  }, 5000);
  await exited;
  clearTimeout(timer);
}

/**
 * Calls `fn` with each whole line `stream` gives (utf8, without its newline). A partial line longer than `cap`
 * characters is dropped (and `overflow` told its length), so a child that never ends a line cannot grow the bench's
 * memory.
 */
export function onLines(stream: NodeJS.ReadableStream, fn: (line: string) => void, cap = 1 << 20, overflow?: (dropped: number) => void): void {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      fn(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
    }
    if (pending.length > cap) {
      const dropped = pending.length;
      pending = '';
      overflow?.(dropped);
    }
  });
}
