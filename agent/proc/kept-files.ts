/**
 * Each process's /proc/<pid>/stat (and, for the processes whose details are read, /proc/<pid>/cgroup) kept open from
 * one scan to the next and read again with ONE pread at offset 0, instead of open + read + close every collection:
 * at 110 pods ~550 stat files, ~1,050 fewer syscalls per collection on the main thread and no path walk, file and
 * seq_file set-up and teardown in the kernel for each. The pattern of runtime/cgroup-stats.ts's counter files, read
 * through the same helper (read-capped.ts preadSeqIntoScratch).
 *
 * Why a kept file reads exactly what opening <procRoot>/<pid>/<file> now would:
 * - An open /proc/<pid>/ file is bound to that process's struct pid, not to the number: each read looks the task up
 *   through it (fs/proc/base.c proc_single_show, proc_pid_stat, proc_cgroup_show: get_pid_task, else -ESRCH). Once
 *   the process is reaped every read fails with ESRCH, also after its number went to a new process (shown on this
 *   kernel, 6.18, in a fresh pid namespace where ns_last_pid hands the number out again:
 *   test/proc/kept-files.test.ts). A kept file never reads another process.
 * - A procfs seq file regenerates its record on a read from offset 0 (preadSeqIntoScratch): a changed comm, state,
 *   parent or cgroup is seen as by a fresh open. Nothing these files show depends on the open: both are 0444, stat's
 *   ptrace check is made on each read (and covers fields the scan does not read), cgroup paths are relative to the
 *   reader's cgroup namespace at the read.
 * - A pread that fails or returns nothing drops the process's files and it is read by path, as without keeping: a PID
 *   still listed is then a new process, which the scan's identity checks (start time, comm) tell apart as before.
 * - A cgroup file is read only after its process's stat file was read successfully in the same scan (`seen`), and is
 *   dropped with it. It was opened after that stat file; the process was alive at the stat read, so it was alive when
 *   the cgroup file was opened, and the path then named it: the two files are the same process's.
 * - Only on a real procfs, the same mount (its st_dev, checked once per scan: a kept file holds its superblock, so no
 *   other mount gets that device number while one is open); a stand-in directory (tests) keeps nothing: a file
 *   replaced there would not be seen through an old fd.
 *
 * Never kept: /proc/<pid>/ns/*, mountinfo, mountstats, root, net/*: an open one pins a dead pod's namespace or mounts.
 * A kept stat or cgroup file pins only its struct pid (and, through it, the small struct of its pid namespace), and
 * only until the end of the first scan that does not read that process (end()), a cgroup file until the end of the
 * first scan that does not read it. Each open file holds ~4.5 KB of kernel memory (struct file and the seq_file's
 * page buffer), and process_open_fds counts them.
 *
 * Not for two scans at once (one per collection). Every fd is used synchronously, straight from the map: a file
 * closed by end() or close() is never read through a stale number.
 */
import { closeSync, openSync, readFileSync, statSync, statfsSync } from 'node:fs';
import { preadSeqIntoScratch, readSeqIntoScratch, readSeqTextCapped, scratchText } from './read-capped.js';

const PROC_SUPER_MAGIC = 0x9fa0;

/**
 * Files kept at most: beyond, the remaining processes are read with open/read/close. A node runs a few hundred to a
 * few thousand processes (kubelet's max-pods is 110 by default, 250 on most providers); 4096 bounds the kernel
 * memory held (~18 MB) and leaves the agent's other files room: at most a quarter of RLIMIT_NOFILE's soft limit
 * (sockets, the cgroup counter files, the reader threads' namespace fds and root walks need the rest).
 */
export const MAX_KEPT_FILES = 4096;

/** min(MAX_KEPT_FILES, a quarter of this process's soft RLIMIT_NOFILE) from /proc/self/limits; 256 when unknown. */
export function keptFilesCap(limits = '/proc/self/limits'): number {
  let text: string;
  try {
    text = readFileSync(limits, 'latin1');
  } catch {
    return 256; // no limits file to read: a small cap rather than an error, keeping files only saves syscalls
  }
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(text);
  if (!m) return 256;
  return m[1] === 'unlimited' ? MAX_KEPT_FILES : Math.min(MAX_KEPT_FILES, Math.floor(Number(m[1]) / 4));
}

/** st_dev of `procRoot` when it is a procfs mount, else -1 (nothing is kept there). */
function procfsDev(procRoot: string): number {
  try {
    return statfsSync(procRoot).type === PROC_SUPER_MAGIC ? statSync(procRoot).dev : -1;
  } catch {
    return -1; // unreadable: the scan's own readdir of procRoot reports why; nothing is kept
  }
}

/** preadSeqIntoScratch on a kept file, or 0 when it throws (ESRCH: the process is gone; else the read by path that follows says what it is). */
function preadOrNothing(fd: number, maxBytes: number): number {
  try {
    return preadSeqIntoScratch(fd, maxBytes);
  } catch {
    return 0;
  }
}

interface Kept {
  stat: number;
  /** -1: none kept. */
  cgroup: number;
  /** The scan (generation) in which the stat file was last read successfully. */
  seen: number;
  /** The scan in which the cgroup file was last read. */
  cgroupSeen: number;
}

export class KeptProcFiles {
  private readonly kept = new Map<number, Kept>();
  private cap: number | null;
  private base = '';
  /** st_dev of the procfs mount the files were opened on; -1: not a procfs, nothing kept. */
  private dev = -1;
  private generation = 0;
  private open = 0;
  private closed = false;

  /** `cap`: files kept at most (default keptFilesCap(), read at the first scan). */
  constructor(opts: { cap?: number } = {}) {
    this.cap = opts.cap ?? null;
  }

  /** Files open (stat and cgroup). */
  get size(): number {
    return this.open;
  }

  /**
   * Before a scan of `procRoot` (`base`: procRoot with one trailing slash). Another procRoot or another mount there
   * closes every file; one that is not a procfs keeps none. One statfs and one stat.
   */
  begin(procRoot: string, base: string): void {
    this.generation++;
    if (this.closed) return;
    const dev = procfsDev(procRoot);
    if (base === this.base && dev === this.dev) return;
    this.closeAll();
    this.base = base;
    this.dev = dev;
    this.cap ??= keptFilesCap();
  }

  /**
   * After the scan: closes the files of every process not read in it (exited, not listed, or past a scan's bound),
   * and the cgroup files not read in it: a pod's own processes have their details read once, then carried over from
   * the previous scan (read-process.ts reuseDetail), so theirs would stay open unread (330 at 110 pods).
   */
  end(): void {
    const g = this.generation;
    // A loop, not forEach with an inline callback: a closure made per scan and called per process gets hot and is
    // compiled again after every full GC (README "V8 and per-call closures"). Deleting the entry being visited is
    // allowed while iterating a Map.
    for (const [pid, k] of this.kept) {
      if (k.seen !== g) this.drop(pid);
      else if (k.cgroupSeen !== g) this.closeCgroup(k);
    }
  }

  /** Closes every file; later scans keep none (shutdown: a scan still running reads by path). */
  close(): void {
    this.closed = true;
    this.closeAll();
  }

  /**
   * readSeqIntoScratch(<base><pid>/stat, maxBytes): through the kept file, else by path (then kept, within the cap).
   * Throws what the read by path throws.
   */
  stat(pid: number, maxBytes: number): number {
    const k = this.kept.get(pid);
    if (k !== undefined) {
      const n = preadOrNothing(k.stat, maxBytes);
      if (n > 0) {
        k.seen = this.generation;
        return n;
      }
      this.drop(pid);
    }
    const path = `${this.base}${pid}/stat`;
    if (this.dev < 0 || this.full()) return readSeqIntoScratch(path, maxBytes);
    const { fd, n } = this.openRead(path, maxBytes);
    if (fd >= 0) this.kept.set(pid, { stat: fd, cgroup: -1, seen: this.generation, cgroupSeen: 0 });
    return n;
  }

  /**
   * readSeqTextCapped(<base><pid>/cgroup, maxBytes), through a kept file only when stat(pid) was read through one in
   * this scan (see the header). Throws what the read by path throws.
   */
  cgroup(pid: number, maxBytes: number): { text: string; truncated: boolean } {
    const path = `${this.base}${pid}/cgroup`;
    const k = this.kept.get(pid);
    if (k === undefined || k.seen !== this.generation) return readSeqTextCapped(path, maxBytes);
    if (k.cgroup >= 0) {
      const n = preadOrNothing(k.cgroup, maxBytes);
      if (n > 0) {
        k.cgroupSeen = this.generation;
        return scratchText(n, maxBytes);
      }
      // Gone since its stat read (or an odd error): its stat file goes too, the next scan opens both again.
      this.drop(pid);
      return readSeqTextCapped(path, maxBytes);
    }
    if (this.full()) return readSeqTextCapped(path, maxBytes);
    const { fd, n } = this.openRead(path, maxBytes);
    if (fd >= 0) {
      k.cgroup = fd;
      k.cgroupSeen = this.generation;
    }
    return scratchText(n, maxBytes);
  }

  /** No file may be kept now: closed, or the cap reached. */
  private full(): boolean {
    return this.closed || this.open >= this.cap!;
  }

  /**
   * Opens `path` and reads it into the scratch buffer (a pread at 0: one syscall, as a read). Kept (counted in
   * `open`) when the read gave bytes: its fd; else closed, fd -1. Throws what the open or the read throws (the fd
   * closed).
   */
  private openRead(path: string, maxBytes: number): { fd: number; n: number } {
    const fd = openSync(path, 'r');
    let n: number;
    try {
      n = preadSeqIntoScratch(fd, maxBytes);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    if (n === 0) {
      closeSync(fd);
      return { fd: -1, n };
    }
    this.open++;
    return { fd, n };
  }

  private closeCgroup(k: Kept): void {
    if (k.cgroup < 0) return;
    closeSync(k.cgroup);
    k.cgroup = -1;
    this.open--;
  }

  private drop(pid: number): void {
    const k = this.kept.get(pid);
    if (k === undefined) return;
    this.kept.delete(pid);
    closeSync(k.stat);
    this.open--;
    this.closeCgroup(k);
  }

  private closeAll(): void {
    for (const pid of this.kept.keys()) this.drop(pid);
  }
}
