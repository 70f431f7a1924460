/**
 * Process-tree helpers for killing what the netns runner started: children from /proc, process state, signals
 * that tolerate a process that is already gone. Only ever applied to PIDs the runner started (or their children).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { errorMessage } from '../../errors.js';

/** Children of `pid` (all its threads), from /proc; a scan of /proc/<n>/stat when the kernel lacks that file. */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      for (const w of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ')) {
        const n = Number(w);
        if (Number.isInteger(n) && n > 0) out.push(n);
      }
    }
    return out;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' || procStat(pid) === null) return out; // the process is gone: nothing left to kill
  }
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const st = procStat(Number(e));
    if (st !== null && st.ppid === pid) out.push(Number(e));
  }
  return out;
}

/** The fields of /proc/<pid>/stat after "(comm)" (index 0 = state, field 3); null when the process is gone. */
function statFieldsAfterComm(pid: number): string[] | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return null;
    throw err;
  }
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** State, parent and process group from /proc/<pid>/stat; null when the process is gone. */
export function procStat(pid: number): { state: string; ppid: number; pgrp: number } | null {
  const rest = statFieldsAfterComm(pid);
  if (rest === null) return null;
  return { state: rest[0] ?? '', ppid: Number(rest[1]), pgrp: Number(rest[2]) };
}

/** Exited (a zombie whose parent has not reaped it) or gone. */
export function isGone(pid: number): boolean {
  const st = procStat(pid);
  return st === null || st.state === 'Z' || st.state === 'X';
}

/** kill(pid, sig); a process that is already gone is not an error. */
export function signalPid(pid: number, sig: NodeJS.Signals): void {
  if (!Number.isInteger(pid) || pid <= 1) return; // never 0, -1 or init: those mean "everyone"
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return; // already gone
    process.emitWarning(`netns: cannot send ${sig} to ${pid}: ${errorMessage(err)}`);
  }
}

/** kill(-pgid, sig): every process of the group; a group that no longer exists is not an error. */
export function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  if (!Number.isInteger(pgid) || pgid <= 1) return;
  try {
    process.kill(-pgid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return;
    process.emitWarning(`netns: cannot send ${sig} to group ${pgid}: ${errorMessage(err)}`);
  }
}

/** USER_HZ: the unit of the CPU times in /proc/<pid>/stat (100 on every Linux architecture Node supports). */
const USER_HZ = 100;

/**
 * CPU seconds of a process and of its children it has reaped (utime + stime + cutime + cstime of
 * /proc/<pid>/stat); null when the process is gone.
 */
export function procTreeCpuSeconds(pid: number): number | null {
  // Fields after "(comm)": state is field 3, utime 14, stime 15, cutime 16, cstime 17.
  const rest = statFieldsAfterComm(pid);
  if (rest === null) return null;
  const ticks = [11, 12, 13, 14].reduce((n, i) => n + (Number(rest[i]) || 0), 0);
  return ticks / USER_HZ;
}
