/**
 * Makes /run/netns a mount point of its own (shared) before a CNI plugin mounts a pod's namespace file there.
 *
 * `ip netns add` does it on its first use: it bind-mounts /run/netns onto itself, recursively, and makes it shared.
 * When a containerd harness already had pods, their namespace files (nsfs mounts on the directory) were copied into
 * the new bind mount: containerd's teardown then unmounts the copy it sees, the original stays mounted under it, and
 * removing the file fails with EBUSY ("failed to remove netns: unlinkat /run/netns/cni-...: device or resource
 * busy"), for every pod of that harness. It happened whenever a test using named namespaces first ran while a
 * harness held pods (a parallel test file, the bench's held pods). So every harness settles it first, as ip would,
 * under a lock so that two harnesses starting at once do not stack two bind mounts.
 */
import { readFile, mkdir, rmdir, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';

const RUN_DIR = '/run/netns';
const LOCK = '/run/cna-netns-run-dir.lock';
/** A lock older than this was left by a process that died holding it (a holder takes at most ~20 s: two ip runs). */
const STALE_MS = 60_000;

/** True when a mount's mount point (mountinfo's fifth field) is `path`. */
export function isMountPoint(mountinfo: string, path: string): boolean {
  return mountinfo.split('\n').some((line) => line.split(' ')[4] === path);
}

async function takeLock(deadline: number): Promise<void> {
  for (;;) {
    try {
      await mkdir(LOCK);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = await stat(LOCK).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age > STALE_MS) await rmdir(LOCK).catch(() => undefined); // gone meanwhile: the next mkdir decides
      if (Date.now() > deadline) throw new Error(`${LOCK} still held after waiting for it`, { cause: err });
      await sleep(20);
    }
  }
}

/** /run/netns made a shared mount point (by `ip netns add` and delete of a throwaway name) if it is not one yet. */
export async function ensureNetnsRunDirMount(): Promise<void> {
  const mounted = async (): Promise<boolean> => isMountPoint(await readFile('/proc/self/mountinfo', 'utf8'), RUN_DIR);
  if (await mounted()) return;
  await takeLock(Date.now() + STALE_MS + 10_000);
  try {
    if (await mounted()) return;
    const name = `cna-run-dir-${process.pid}`;
    await execa('ip', ['netns', 'add', name], { timeout: 10_000 });
    await execa('ip', ['netns', 'delete', name], { timeout: 10_000 });
  } finally {
    // Gone only if a waiter took it for stale (a holder past STALE_MS): not this call's failure.
    await rmdir(LOCK).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
}
