/**
 * The root reader thread's side of mount-events.ts: per container, the last time its mountstats showed nothing (no
 * FUSE or network filesystem, no __chaosfs__ mount point: root-facts.ts nothingMounted), under which ticket. While
 * the main thread's tickets say no mount event happened since (same epoch) in the namespace marked for it (same
 * inode), and the container's process is still in that namespace under the same root, its mount table still shows
 * nothing and is not read: a readlink and an fstat instead of mountstats' open, reads and close, and the kernel
 * formatting every mount of the container for them.
 *
 * The two checks close what the events cannot see: the process moving to another mount namespace (setns, unshare:
 * its old namespace may live on without an event), and its root changing (chroot: mountstats prints only the
 * mounts under the reader's root, relative to it). A record is kept only when the namespace read is the marked
 * one; records of containers a request does not name are dropped.
 */
import { fstatSync, readlinkSync } from 'node:fs';
import { deleteUnless } from '../delete-unless.js';
import type { MountTicket } from './mount-events.js';
import { parseNsLink } from './proc-files.js';
import type { RootJob } from './root-facts.js';

interface Seen {
  pid: number;
  procRoot: string;
  epoch: number;
  ino: number;
  rootDev: number;
  rootIno: number;
}

/**
 * Where the container's process is now: its mount namespace (the inode in the `mnt:[N]` its link reads: half the
 * cost of a stat, which makes the kernel build the namespace's dentry) and the root it was opened at (`rootFd`, an
 * O_PATH fd of /proc/<pid>/root), or null when either cannot be had.
 */
function placeOf(job: RootJob, rootFd: number | undefined): { ino: number; rootDev: number; rootIno: number } | null {
  if (rootFd === undefined) return null;
  const ino = parseNsLink(readlinkSync(`${job.procRoot}/${job.pid}/ns/mnt`), 'mnt');
  if (ino === null) return null;
  const root = fstatSync(rootFd);
  return { ino, rootDev: root.dev, rootIno: root.ino };
}

export class QuietMounts {
  private readonly seen = new Map<string, Seen>();
  private ticket: MountTicket | null = null;
  private place: ReturnType<typeof placeOf> = null;
  /** Mount tables not read because nothing changed (tests, the reply's count). */
  skipped = 0;

  /** The next container's ticket (null: no event group on the main thread, or its namespace is not marked). */
  begin(ticket: MountTicket | null): void {
    this.ticket = ticket;
    this.place = null;
  }

  /** True when `job`'s mount table is known to show nothing: the caller does not read it. `rootFd`: see placeOf. */
  unchanged(job: RootJob, rootFd: number | undefined): boolean {
    const t = this.ticket;
    if (t === null) return false;
    try {
      this.place = placeOf(job, rootFd);
    } catch (err) {
      void err; // gone (ENOENT), EACCES...: no record is trusted or made; the mount table read meets the failure and says why
      this.place = null;
    }
    const p = this.place;
    const s = this.seen.get(job.container.id);
    if (p === null || s === undefined) return false;
    const same = s.epoch === t.epoch && s.ino === t.ino && p.ino === t.ino && s.pid === job.pid && s.procRoot === job.procRoot &&
      s.rootDev === p.rootDev && s.rootIno === p.rootIno;
    if (same) this.skipped++;
    return same;
  }

  /** `job`'s mount table was just read (after `unchanged`): `nothing` when its mountstats showed nothing. */
  read(job: RootJob, nothing: boolean): void {
    const t = this.ticket;
    const p = this.place;
    if (!nothing || t === null || p === null || p.ino !== t.ino) {
      this.seen.delete(job.container.id);
      return;
    }
    this.seen.set(job.container.id, { pid: job.pid, procRoot: job.procRoot, epoch: t.epoch, ino: t.ino, rootDev: p.rootDev, rootIno: p.rootIno });
  }

  /** Drop the records of containers not in `jobs` (a request names every running container of a collection). */
  retain(jobs: readonly RootJob[]): void {
    if (this.seen.size === 0) return;
    const ids = new Set<string>();
    for (const j of jobs) ids.add(j.container.id);
    deleteUnless(this.seen, ids);
  }
}
