/**
 * Container CPU/working set read from the host's cgroup filesystem instead of asking the runtime (CRI
 * ListContainerStats makes every containerd-shim read its container's cgroup and answer over ttrpc: at 110 pods
 * 0.5-0.9 s of the node's CPU per collection). The formulas are containerd's (cgroup-parse.ts).
 *
 * Where: the container's init PID (from the runtime) -> <procRoot>/<pid>/cgroup -> the cgroup directory under
 * <cgroupRoot> (the host's /sys/fs/cgroup, `<hostRoot>/sys/fs/cgroup`). The mode is decided as containerd decides
 * it (cgroups.Mode): the root is a cgroup2 mount -> v2; otherwise v1 (legacy or hybrid), the cpuacct and memory
 * hierarchies mounted at <cgroupRoot>/cpuacct and <cgroupRoot>/memory (directly or as the `cpu,cpuacct` symlinks
 * systemd makes), each checked to be a cgroup v1 mount.
 *
 * The three counter files of each running container stay open between collections and are re-read with pread at
 * offset 0 (a cgroup file regenerates its contents on every read from 0): a third of the syscalls of
 * open/read/close, and no /proc/<pid>/cgroup read once a container is known. Key: the container ID and its PID, for
 * a cgroup directory checked at open time to be that container's (its last path segment names the container ID,
 * cgroup-parse.ts containerCgroupDirs). Why that is enough: an open file stays bound to its cgroup (it can never
 * come to read another cgroup's counters, whatever PIDs are reused); a cgroup named with a container ID is that
 * container's only, for its whole life (a restart is a new container with a new ID); a removed cgroup's open files
 * fail with ENODEV, which drops them and retries from /proc/<pid>/cgroup, and failing that the caller asks the
 * runtime. containerd's shim likewise loads the container's cgroup once, from the init PID at start, and reads it
 * until the container is deleted. Files of containers not read in a collection are closed at its end (`retain`).
 */
import { closeSync, openSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { deleteUnless } from '../delete-unless.js';
import { ValidationError, errorMessage } from '../errors.js';
import { parseCgroupFile } from '../proc/proc-files.js';
import { isGoneError, preadSeqIntoScratch, readSeqTextCapped, scratchBuffer } from '../proc/read-capped.js';
import {
  containerCgroupDirs,
  parseKeyedU64Bytes,
  parseU64File,
  usageFromValues,
  USAGE_KEYS,
  type CgroupMode,
  type NamespaceRoots,
  type UsageResult,
} from './cgroup-parse.js';
import { NamespaceRootCache } from './cgroup-namespace.js';

const CGROUP2_SUPER_MAGIC = 0x63677270;
const CGROUP_SUPER_MAGIC = 0x27e0eb;
/** /proc/<pid>/cgroup (one line per hierarchy) and the counter files are far below this. */
const MAX_FILE_BYTES = 16 * 1024;

/**
 * The agent's own view of the cgroup filesystem: in a container, mounted by the runtime rooted at the container's
 * cgroup namespace (cgroup-namespace.ts); on the host, the host's.
 */
export const OWN_CGROUP_ROOT = '/sys/fs/cgroup';

/** The host's cgroup filesystem under --host-root. */
export function hostCgroupRoot(hostRoot: string): string {
  return join(hostRoot, 'sys/fs/cgroup');
}

export type CgroupLayout = { ok: true; root: string; mode: CgroupMode } | { ok: false; reason: string };

/** containerd's cgroups.Mode() on `root`, plus a check that the v1 hierarchies read are cgroup mounts. */
export async function detectCgroupLayout(root: string): Promise<CgroupLayout> {
  try {
    const fs = await statfs(root);
    if (fs.type === CGROUP2_SUPER_MAGIC) return { ok: true, root, mode: 'v2' };
    for (const sub of ['cpuacct', 'memory']) {
      const t = (await statfs(join(root, sub))).type;
      if (t !== CGROUP_SUPER_MAGIC) return { ok: false, reason: `${join(root, sub)} is not a cgroup v1 mount (type 0x${t.toString(16)})` };
    }
    return { ok: true, root, mode: 'v1' };
  } catch (err) {
    return { ok: false, reason: `cannot statfs the cgroup filesystem: ${errorMessage(err)}` };
  }
}

/** The three files a container's usage is computed from, open. */
interface OpenCounters {
  pid: number;
  /** v1: cpuacct.usage, memory.usage_in_bytes, memory.stat; v2: cpu.stat, memory.current, memory.stat. */
  fds: [number, number, number];
}

/**
 * Whole contents of an open cgroup file, read from offset 0 into the thread's scratch buffer (scratchBuffer());
 * returns its length. One pread when it fits: a cgroup counter file is a single-record seq file, so a read shorter
 * than asked has returned all of it (read-capped.ts explains why).
 */
function pread(fd: number): number {
  const total = preadSeqIntoScratch(fd, MAX_FILE_BYTES);
  if (total > MAX_FILE_BYTES) throw new ValidationError(`cgroup file of more than ${MAX_FILE_BYTES} bytes`);
  return total;
}

/** An open single-value file (cpuacct.usage, memory.usage_in_bytes, memory.current) as parseU64File reads it. */
function preadU64(fd: number): bigint | null {
  const n = pread(fd);
  return parseU64File(scratchBuffer().toString('utf8', 0, n));
}

/** One key of an open flat-keyed file (cpu.stat, memory.stat), parsed on its bytes (parseKeyedU64Bytes). */
function preadKeyed(fd: number, key: string): bigint | null {
  const n = pread(fd);
  return parseKeyedU64Bytes(scratchBuffer(), n, key);
}

function closeAll(fds: readonly number[]): void {
  for (const fd of fds) closeSync(fd);
}

const FILES: Record<CgroupMode, [string, string, string]> = {
  v1: ['cpuacct.usage', 'memory.usage_in_bytes', 'memory.stat'],
  v2: ['cpu.stat', 'memory.current', 'memory.stat'],
};

/**
 * The usage computed from a container's three open counter files (throws on a read error: ENODEV...), each file
 * parsed as it is read (the scratch buffer is reused).
 */
export function readCounters(mode: CgroupMode, fds: readonly number[]): UsageResult {
  const cpu = mode === 'v2' ? preadKeyed(fds[0]!, USAGE_KEYS.v2.cpu) : preadU64(fds[0]!);
  const mem = preadU64(fds[1]!);
  return usageFromValues(mode, cpu, mem, preadKeyed(fds[2]!, USAGE_KEYS[mode].inactive));
}

/**
 * Opens the counter files of the cgroup <procRoot>/<pid>/cgroup names, if that cgroup is the container's
 * (containerCgroupDirs). Never throws; nothing stays open on failure.
 */
export function openContainerCounters(layout: { root: string; mode: CgroupMode }, procRoot: string, c: { id: string; pid: number }, nsRoots: NamespaceRoots = {}):
  { ok: true; fds: [number, number, number] } | { ok: false; reason: string; outside?: true; gone?: true } {
  if (!Number.isSafeInteger(c.pid) || c.pid <= 0) return { ok: false, reason: `bad pid ${c.pid}` };
  const fds: number[] = [];
  let cgroup: { text: string; truncated: boolean };
  try {
    cgroup = readSeqTextCapped(join(procRoot, String(c.pid), 'cgroup'), MAX_FILE_BYTES);
  } catch (err) {
    // ENOENT / ESRCH: the process exited (the container stopped after it was listed).
    return isGoneError(err) ? { ok: false, reason: `process ${c.pid} is gone`, gone: true } : { ok: false, reason: errorMessage(err) };
  }
  try {
    if (cgroup.truncated) return { ok: false, reason: `/proc/${c.pid}/cgroup: more than ${MAX_FILE_BYTES} bytes` };
    const dirs = containerCgroupDirs(parseCgroupFile(cgroup.text), layout.mode, c.id, nsRoots);
    if (!dirs.ok) return dirs;
    const [cpuFile, memFile, statFile] = FILES[layout.mode];
    for (const path of [join(layout.root, dirs.cpu, cpuFile), join(layout.root, dirs.memory, memFile), join(layout.root, dirs.memory, statFile)]) {
      fds.push(openSync(path, 'r'));
    }
    return { ok: true, fds: fds as [number, number, number] };
  } catch (err) {
    closeAll(fds);
    return { ok: false, reason: errorMessage(err) };
  }
}

/**
 * Reads running containers' usage from their cgroups, keeping their counter files open across collections (see the
 * header for the key). One per agent; not safe for two collections at once (they run one after the other).
 */
export class CgroupStatsReader {
  readonly root: string;
  private readonly procRoot: string;
  private readonly ownRoot: string | null;
  private layout: CgroupLayout | null = null;
  private readonly open = new Map<string, OpenCounters>();
  /** What retain() deletes through: a container's entry and its files (made once, not per call). */
  private readonly dropper = { delete: (id: string): void => this.drop(id) };
  private readonly nsCaches = new Map<string, NamespaceRootCache>();
  private nsRoots: NamespaceRoots = {};
  /** A container's path climbed out of the agent's cgroup namespace: it has one of its own, located from now on. */
  private ownNamespace = false;
  private nsLocated = false;
  private closed = false;
  /** Why a hierarchy's namespace root is unknown, as last located (empty when none is missing). */
  namespaceProblems: string[] = [];

  /**
   * `ownCgroupRoot`: the agent's own view of the cgroup filesystem (its /sys/fs/cgroup); with it, once a container's
   * path shows that the agent runs in a cgroup namespace of its own (`/../`: the kernel never shows one in the
   * host's), paths relative to that namespace are located (cgroup-namespace.ts). Without it, only paths as the
   * host's namespace shows them are read.
   */
  constructor(opts: { cgroupRoot: string; procRoot: string; ownCgroupRoot?: string }) {
    this.root = opts.cgroupRoot;
    this.procRoot = opts.procRoot;
    this.ownRoot = opts.ownCgroupRoot ?? null;
  }

  /** Where the agent's cgroup namespace is rooted per hierarchy, as of the last prepare() ({} in the host's). */
  get namespaceRoots(): NamespaceRoots {
    return this.nsRoots;
  }

  /** Number of containers whose files are open (tests, leaks). */
  get openContainers(): number {
    return this.open.size;
  }

  /** Before a collection's reads: the layout, detected again (a statfs or three); a changed mode closes every file. */
  async prepare(): Promise<CgroupLayout> {
    const layout = await detectCgroupLayout(this.root);
    const before = this.layout;
    if (!layout.ok || !before?.ok || before.mode !== layout.mode) this.retain(new Set());
    this.layout = layout;
    this.nsLocated = false;
    this.nsRoots = layout.ok && this.ownNamespace ? this.locateNamespace(layout) : {};
    return layout;
  }

  /** Where the agent's cgroup namespace is rooted in each hierarchy read (one stat each once known); once per collection. */
  private locateNamespace(layout: { root: string; mode: CgroupMode }): NamespaceRoots {
    this.nsLocated = true;
    this.namespaceProblems = [];
    if (this.ownRoot === null) return {};
    const one = (sub: string): string | null => {
      const host = sub ? join(layout.root, sub) : layout.root;
      let cache = this.nsCaches.get(host);
      if (!cache) this.nsCaches.set(host, (cache = new NamespaceRootCache(host, sub ? join(this.ownRoot!, sub) : this.ownRoot!)));
      const r = cache.get();
      if (r.ok) return r.rel;
      this.namespaceProblems.push(r.reason);
      return null;
    };
    return layout.mode === 'v2' ? { unified: one('') } : { cpuacct: one('cpuacct'), memory: one('memory') };
  }

  /** One running container's usage, or why not (the caller then asks the runtime). Never throws. */
  read(c: { id: string; pid: number }): UsageResult {
    const layout = this.layout;
    // Closed (shutdown) while a collection was between prepare() and its reads: nothing is opened again.
    if (this.closed) return { ok: false, reason: 'the cgroup reader is closed' };
    if (!layout?.ok) return { ok: false, reason: layout ? layout.reason : 'cgroup layout not detected' };
    const held = this.open.get(c.id);
    if (held && held.pid === c.pid) {
      try {
        return readCounters(layout.mode, held.fds);
      } catch (err) {
        // ENODEV: the cgroup was removed. Whatever it was, open again from /proc/<pid>/cgroup.
        this.drop(c.id);
        const again = this.openAndRead(layout, c);
        return again.ok ? again : { ...again, reason: `${again.reason} (the open files failed: ${errorMessage(err)})` };
      }
    } else if (held) {
      this.drop(c.id);
    }
    return this.openAndRead(layout, c);
  }

  /** After a collection: close the files of every container not in `ids`. */
  retain(ids: ReadonlySet<string>): void {
    deleteUnless(this.open, ids, this.dropper);
  }

  close(): void {
    this.closed = true;
    this.retain(new Set());
  }

  private openAndRead(layout: { root: string; mode: CgroupMode }, c: { id: string; pid: number }): UsageResult {
    let opened = openContainerCounters(layout, this.procRoot, c, this.nsRoots);
    if (!opened.ok && opened.outside && this.ownRoot !== null && !this.nsLocated) {
      this.ownNamespace = true;
      this.nsRoots = this.locateNamespace(layout);
      opened = openContainerCounters(layout, this.procRoot, c, this.nsRoots);
    }
    if (!opened.ok) return opened;
    let got: UsageResult;
    try {
      got = readCounters(layout.mode, opened.fds);
    } catch (err) {
      got = { ok: false, reason: errorMessage(err) };
    }
    if (got.ok) this.open.set(c.id, { pid: c.pid, fds: opened.fds });
    else closeAll(opened.fds);
    return got;
  }

  private drop(id: string): void {
    const held = this.open.get(id);
    if (!held) return;
    this.open.delete(id);
    closeAll(held.fds);
  }
}
