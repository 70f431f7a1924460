/**
 * Which kind of namespace an nsfs file is (ioctl NS_GET_NSTYPE, Linux 4.11+). `inspect --netns PATH` may be given
 * the file of another namespace (`/proc/<pid>/ns/mnt`): it passes the file checks (ns-file.ts: an nsfs file), then
 * setns(CLONE_NEWNET) refuses it with EINVAL, which the netlink reader takes for a node-wide failure and the tools
 * for a read error on every source. Asked first, the answer names the problem.
 */
import { closeSync, openSync } from 'node:fs';
import { AgentError } from '../errors.js';
import { errnoName, libcLibrary } from './netlink/libc.js';
import { NS_OPEN_FLAGS } from './ns-file.js';

/** _IO(0xb7, 0x3) (linux/nsfs.h). */
const NS_GET_NSTYPE = 0xb703;
/** CLONE_NEW* (linux/sched.h) -> the name lsns gives the type. */
const TYPES: ReadonlyMap<number, string> = new Map([
  [0x0000_0080, 'time'], [0x0002_0000, 'mnt'], [0x0200_0000, 'cgroup'], [0x0400_0000, 'uts'],
  [0x0800_0000, 'ipc'], [0x1000_0000, 'user'], [0x2000_0000, 'pid'], [0x4000_0000, 'net'],
]);

let ioctl: ((fd: number, request: number) => number) | null = null;

/**
 * `net`, `mnt`, `pid`...: the type of the namespace whose nsfs file is at `path`. Throws an AgentError when it cannot
 * be told (the file is not an nsfs file, the kernel is older, koffi cannot load): the caller then reads on and lets
 * the reader's own checks speak.
 */
export function namespaceType(path: string): string {
  const { koffi, lib } = libcLibrary();
  ioctl ??= lib.func('int ioctl(int fd, unsigned long request)') as (fd: number, request: number) => number;
  // Never blocks (a FIFO swapped in), never inherited; closed here whatever happens.
  const fd = openSync(path, NS_OPEN_FLAGS);
  try {
    const type = ioctl(fd, NS_GET_NSTYPE);
    if (type < 0) throw new AgentError('NS_TYPE', `${path}: NS_GET_NSTYPE failed: ${errnoName(koffi.errno())}`);
    return TYPES.get(type) ?? `0x${type.toString(16)}`;
  } finally {
    closeSync(fd);
  }
}
