/**
 * What a test containerd (containerd.ts) leaves outside its dir or behind a failed cleanup, removed by its stop():
 * netns files, shims and their sockets, runc containers, CNI results, mounts under its dir, its CNI bridge.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { mountsUnder } from './mounts.js';

/** For reads of things that may legitimately be gone (exited processes, removed files): that case -> fallback. */
export function ifGone<T>(fallback: T): (err: NodeJS.ErrnoException) => T {
  return (err) => {
    if (err.code === 'ENOENT' || err.code === 'ESRCH') return fallback;
    throw err;
  };
}

export async function ipLinkDelete(name: string): Promise<void> {
  const r = await execa('ip', ['link', 'del', name], { reject: false, timeout: 10_000 });
  if (r.exitCode !== 0 && !/Cannot find device|does not exist/i.test(String(r.stderr))) {
    throw new Error(`ip link del ${name}: ${r.stderr}`);
  }
}

export async function removeNetnsFile(path: string): Promise<void> {
  if (!existsSync(path)) return;
  // containerd bind-mounts the netns file: unmount, then unlink.
  await execa('umount', [path], { reject: false, timeout: 10_000 });
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

/**
 * Shims started for the containerd of `dir` and `socket` (cmdline has `-address <socket>`): SIGKILL by PID, remove
 * their sockets.
 */
export async function killLeftoverShims(dir: string, socket: string): Promise<void> {
  const taskDir = join(dir, 'state', 'io.containerd.runtime.v2.task', 'k8s.io');
  const sockets: string[] = [];
  for (const id of await readdir(taskDir).catch(ifGone([] as string[]))) {
    const addr = await readFile(join(taskDir, id, 'address'), 'utf8').catch(ifGone(''));
    if (addr.startsWith('unix://')) sockets.push(addr.slice('unix://'.length).trim());
  }
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const cmd = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(ifGone(''));
    const argv = cmd.split('\0');
    if (!argv[0]?.includes('containerd-shim')) continue;
    const i = argv.indexOf('-address');
    if (i >= 0 && argv[i + 1] === socket) {
      try {
        process.kill(Number(p), 'SIGKILL');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
      }
    }
  }
  for (const s of sockets) await unlink(s).catch(ifGone(undefined));
}

/** Containers left in the runc root of the harness's `dir`: `runc delete --force` (kills their processes). */
export async function deleteRuncContainers(dir: string): Promise<void> {
  const root = join(dir, 'runc', 'k8s.io');
  if (!existsSync(root)) return;
  for (const id of await readdir(root)) {
    await execa('runc', ['--root', root, 'delete', '--force', id], { reject: false, timeout: 10_000 });
  }
}

/** The CNI results of the pods of `slot`'s network (cna-<slot>). */
export async function removeCniResults(slot: number): Promise<void> {
  const dir = '/var/lib/cni/results';
  const prefix = `cna-${slot}-`;
  for (const f of await readdir(dir).catch(ifGone([] as string[]))) {
    if (f.startsWith(prefix)) await rm(join(dir, f), { force: true });
  }
}

/** Unmount anything still mounted under a harness's dir (rootfs overlays of killed shims), deepest first. */
export async function unmountUnder(dir: string): Promise<void> {
  for (const m of mountsUnder(dir)) await execa('umount', ['-l', m], { reject: false, timeout: 10_000 });
}
