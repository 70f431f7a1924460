/**
 * /proc facts for "no process left behind", "no fd left open" and "memory bounded" assertions: liveness (a zombie
 * counts as gone), descendants of a process, its peak RSS, this process's open fds.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

function readProc(pid: number | string, file: string): string | null {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return null;
    throw err;
  }
}

/** State letter and parent PID from /proc/<pid>/stat (null when gone). */
function statOf(pid: number | string): { state: string; ppid: number } | null {
  const text = readProc(pid, 'stat');
  if (text === null) return null;
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: f[0] ?? '?', ppid: Number(f[1]) };
}

/** True while the process exists and is not a zombie. */
export function alive(pid: number): boolean {
  const s = statOf(pid);
  return s !== null && s.state !== 'Z';
}

/** Live (non-zombie) processes whose parent chain reaches `pid`. */
export function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const s = statOf(e);
    if (s !== null && s.state !== 'Z') parent.set(Number(e), s.ppid);
  }
  const out: number[] = [];
  for (const p of parent.keys()) {
    let cur = parent.get(p);
    for (let hops = 0; cur !== undefined && cur > 1 && hops < 64; hops++) {
      if (cur === pid) {
        out.push(p);
        break;
      }
      cur = parent.get(cur);
    }
  }
  return out.sort((a, b) => a - b);
}

/** A field of /proc/<pid>/status in bytes (VmHWM: peak RSS, VmRSS: current), null when the process is gone. */
export function statusBytes(pid: number, field: 'VmHWM' | 'VmRSS'): number | null {
  const text = readProc(pid, 'status');
  if (text === null) return null;
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(text);
  return m ? Number(m[1]) * 1024 : null;
}

/**
 * Give processes the agent killed time to die before asserting that none is left: a SIGKILLed process is gone only
 * once the kernel has run it again, which a loaded machine can delay. Polls `settled` for at most `timeoutMs`,
 * never throws: the caller asserts the state afterwards (a process nobody killed is still there then).
 */
export async function settle(settled: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await settled()) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

/** Poll `check` every 20 ms until it returns a value that is not undefined, or fail after `timeoutMs`. */
export async function waitUntil<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`, { cause: last });
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** This process's open fds and what each links to (/proc/self/fd/N); the fd readdir itself used, closed since, is left out. */
export function ownFds(): { fd: number; target: string }[] {
  const out: { fd: number; target: string }[] = [];
  for (const n of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${n}`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    out.push({ fd: Number(n), target });
  }
  return out;
}
