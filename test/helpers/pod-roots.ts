/** Real roots for the /proc root readers' tests (test/proc/): chrooted processes, and the refusals of a walk. */
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { expect } from 'vitest';
import { PodPathError } from '../../agent/errors.js';

/**
 * A busybox `sleep` chrooted into `root`, in a network namespace of its own (its /proc/<pid>/net/tcp, which the JVM
 * facts read, is then its own: the host's can exceed the reader's 1 MiB cap while other suites run) and a mount
 * namespace of its own when `ownMounts`; its PID. The process is pushed on `procs` at once (the caller kills them).
 */
export async function chrootSleeper(procs: ResultPromise[], root: string, ownMounts = false): Promise<number> {
  await mkdir(join(root, 'bin'), { recursive: true });
  await execa('cp', ['/bin/busybox', join(root, 'bin', 'busybox')], { timeout: 5000 });
  const argv = ['chroot', root, '/bin/busybox', 'sleep', '600'];
  const p = execa('unshare', ['--net', ...(ownMounts ? ['--mount', '--propagation', 'private'] : []), ...argv], { reject: false });
  procs.push(p);
  // unshare execs chroot, which execs busybox: the PID stays; wait until its root is the tree.
  const want = (await stat(root)).ino;
  for (const end = Date.now() + 10_000; Date.now() < end;) {
    const pid = p.pid!;
    const comm = await readFile(`/proc/${pid}/comm`, 'utf8').catch((err: unknown) => String(err));
    const ino = await stat(`/proc/${pid}/root`).then((s) => s.ino, (err: unknown) => String(err));
    if (comm === 'busybox\n' && ino === want) return pid;
    await new Promise((res) => setTimeout(res, 20));
  }
  throw new Error(`sleeper in ${root} did not start`);
}

/** The reason of the PodPathError `p` rejects with (fails the test when it resolves or throws anything else). */
export async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(PodPathError);
    return (err as PodPathError).reason;
  }
  throw new Error('expected a refusal');
}
