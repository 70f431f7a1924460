/**
 * IOChaos in a container's mount table (toda src/mount_injector.rs): toda moves the volume mounted at `<dir>/<name>`
 * to `<dir>/__chaosfs__<name>__` (MS_MOVE) and mounts its FUSE filesystem (`-o fsname=toda`: mountinfo source
 * `toda`, fstype `fuse` or `fuse.<subtype>`) on the original path. Recovery unmounts the FUSE filesystem and moves
 * the volume back, leaving the empty `__chaosfs__<name>__` directory (not a mount). Pure.
 *
 * - a `toda` FUSE mount on a path: active (every file operation there goes through toda's injector);
 * - a `__chaosfs__<name>__` mount with no toda mount on `<name>`: active too, a failed recovery: the application
 *   sees the bare mount point instead of its volume.
 */
import type { MountEntry } from './mountinfo.js';

export interface IoMountFact {
  /** The volume path the application uses. */
  volume: string;
  /** The toda FUSE mount on `volume`, when present. */
  fuse: { mountId: number; fstype: string; source: string } | null;
  /** Where the original volume is mounted now (`<dir>/__chaosfs__<name>__`), when it is. */
  movedTo: string | null;
}

const CHAOSFS = /^__chaosfs__(.+)__$/;

function split(path: string): { dir: string; name: string } {
  const i = path.lastIndexOf('/');
  return { dir: path.slice(0, i), name: path.slice(i + 1) };
}

export function isTodaMount(m: Pick<MountEntry, 'fstype' | 'source'>): boolean {
  return m.source === 'toda' && (m.fstype === 'fuse' || m.fstype.startsWith('fuse.'));
}

/** The IOChaos evidence of one mount table, one fact per volume, sorted by volume path. */
export function ioChaosMounts(mounts: readonly MountEntry[]): IoMountFact[] {
  const facts = new Map<string, IoMountFact>();
  const fact = (volume: string): IoMountFact => {
    let f = facts.get(volume);
    if (!f) facts.set(volume, (f = { volume, fuse: null, movedTo: null }));
    return f;
  };
  // The last mount on a point is the visible one; earlier ones are stacked below it.
  for (const m of mounts) {
    if (isTodaMount(m)) fact(m.mountPoint).fuse = { mountId: m.id, fstype: m.fstype, source: m.source };
    const { dir, name } = split(m.mountPoint);
    const moved = CHAOSFS.exec(name);
    if (moved) fact(`${dir}/${moved[1]}`).movedTo = m.mountPoint;
  }
  return [...facts.values()].sort((a, b) => a.volume.localeCompare(b.volume));
}
