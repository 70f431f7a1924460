/**
 * Pure parser of /proc/<pid>/mountinfo (proc(5)):
 *   `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`
 *   mount ID, parent ID, major:minor, root, mount point, mount options, optional fields ... `-`, fstype, source,
 *   super options. Paths escape space, tab, newline and backslash as `\ooo` octal; mount points are relative to
 *   the reading process's root (a container's mountinfo shows `/`, `/etc/resolv.conf`...).
 * Total: a line it cannot read is reported in `errors` and skipped.
 */
import { ParseError } from '../errors.js';

export interface MountEntry {
  id: number;
  parentId: number;
  /** major:minor of st_dev. */
  device: string;
  /** Root of the mount within its filesystem. */
  root: string;
  mountPoint: string;
  options: string[];
  /** `shared:N`, `master:N`, `propagate_from:N`, `unbindable`. */
  optional: string[];
  fstype: string;
  /** The mount source (`/dev/vda`, `overlay`, `toda` for a FUSE filesystem mounted with fsname=toda). */
  source: string;
  superOptions: string[];
}

export interface Mountinfo {
  mounts: MountEntry[];
  errors: ParseError[];
}

/** Undo the kernel's `\ooo` escapes (seq_file mangle of ` \t\n\\`). */
export function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

function parseLine(line: string, n: number): MountEntry | ParseError {
  const f = line.split(' ');
  const sep = f.indexOf('-', 6);
  if (f.length < 10 || sep < 0 || f.length < sep + 4) return new ParseError('mountinfo', n, line.slice(0, 200), 'too few fields');
  const id = Number(f[0]);
  const parentId = Number(f[1]);
  if (!Number.isSafeInteger(id) || !Number.isSafeInteger(parentId) || !/^\d+:\d+$/.test(f[2]!)) {
    return new ParseError('mountinfo', n, line.slice(0, 200), 'bad mount ID, parent ID or device');
  }
  const mountPoint = unescapeMountPath(f[4]!);
  if (!mountPoint.startsWith('/')) return new ParseError('mountinfo', n, line.slice(0, 200), 'mount point is not absolute');
  return {
    id,
    parentId,
    device: f[2]!,
    root: unescapeMountPath(f[3]!),
    mountPoint,
    options: f[5]!.split(','),
    optional: f.slice(6, sep),
    fstype: f[sep + 1]!,
    source: unescapeMountPath(f[sep + 2]!),
    superOptions: f.slice(sep + 3).join(' ').split(','),
  };
}

export function parseMountinfo(text: string): Mountinfo {
  const mounts: MountEntry[] = [];
  const errors: ParseError[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const r = parseLine(line, i + 1);
    if (r instanceof ParseError) errors.push(r);
    else mounts.push(r);
  }
  return { mounts, errors };
}

const BLOCKING_TYPES = 'nfs4?|cifs|smb3|9p|ceph|glusterfs|afs|lustre|gfs2|ocfs2|sshfs';

/** Filesystems whose operations can block indefinitely on a server: never walked into by the agent. */
export function mayBlock(fstype: string): boolean {
  return fstype === 'fuse' || fstype === 'fuseblk' || fstype.startsWith('fuse.') || new RegExp(`^(${BLOCKING_TYPES})$`).test(fstype);
}

const INTERESTING = new RegExp(` - (fuse|fuseblk|${BLOCKING_TYPES})[ .]|__chaosfs__`);

/**
 * Whether a mount table holds anything the /proc readers care about (a FUSE or network filesystem, a __chaosfs__
 * mount point): most do not, and then the table need not be parsed. A superset test: it may say yes for nothing.
 */
export function mayMatter(text: string): boolean {
  return INTERESTING.test(text);
}

/** The same test on /proc/<pid>/mountstats (`device <src> mounted on <point> with fstype <type>[ <stats>]`). */
const INTERESTING_STATS = new RegExp(` with fstype (fuse|fuseblk|${BLOCKING_TYPES})[ .\n]|__chaosfs__`);

/**
 * Whether a container's mountstats (its whole text, not cut) shows a mount `mayMatter` could care about. A superset
 * test of the facts read from mountinfo, which depend only on each mount's fstype and mount point: the kernel
 * (fs/proc_namespace.c) writes both files from the same mount list, skipping the same mounts (those outside the
 * reader's root: seq_path_root's SEQ_SKIP in show_vfsstat and show_mountinfo), with the same mount point (same
 * escaping of ` \t\n\\`) and the same fstype (show_type, `type[.subtype]`, followed by a space or the newline).
 * mountstats skips the mount options, the mount's root and the propagation fields: the kernel formats it for a
 * fraction of a mountinfo read's CPU (most of which goes into the options).
 */
export function mountstatsMayMatter(text: string): boolean {
  return INTERESTING_STATS.test(text);
}

/** Mount points (as the process sees them) on filesystems that `mayBlock`: paths the root reader refuses. */
export function blockingMountPoints(mounts: readonly MountEntry[]): string[] {
  return mounts.filter((m) => mayBlock(m.fstype)).map((m) => m.mountPoint);
}
