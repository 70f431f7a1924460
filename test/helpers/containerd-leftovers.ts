/**
 * What a test containerd (containerd.ts) leaves outside its dir or behind a failed cleanup, removed by its stop():
 * netns files, shims and their sockets, runc containers, CNI results, mounts under its dir, its CNI bridge.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, stat, unlink } from 'node:fs/promises';
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

/** The PIDs of the shims started for the containerd of `socket` (cmdline has `-address <socket>`). */
async function shimPids(socket: string): Promise<number[]> {
  const pids: number[] = [];
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const argv = (await readFile(`/proc/${p}/cmdline`, 'utf8').catch(ifGone(''))).split('\0');
    if (!argv[0]?.includes('containerd-shim')) continue;
    const i = argv.indexOf('-address');
    if (i >= 0 && argv[i + 1] === socket) pids.push(Number(p));
  }
  return pids;
}

/**
 * The netns files (`netnsDir`/cni-*) of the pods of the shims `shims`: the namespaces of the shims' children (the
 * pods' processes), for a containerd that can no longer remove them with its sandboxes (killed), and for a pod whose
 * creation failed before its netns file was known.
 */
async function netnsOfShims(shims: ReadonlySet<number>, netnsDir = '/var/run/netns'): Promise<string[]> {
  if (shims.size === 0) return [];
  const inodes = new Set<number>();
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    // `pid (comm) state ppid ...`: comm may hold spaces and parentheses, the last ')' ends it.
    const st = await readFile(`/proc/${p}/stat`, 'utf8').catch(ifGone(''));
    const ppid = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
    if (!shims.has(ppid)) continue;
    const ns = await stat(`/proc/${p}/ns/net`).catch(ifGone(null));
    if (ns) inodes.add(ns.ino);
  }
  const files: string[] = [];
  for (const f of await readdir(netnsDir).catch(ifGone([] as string[]))) {
    if (!f.startsWith('cni-')) continue;
    const ns = await stat(join(netnsDir, f)).catch(ifGone(null));
    if (ns && inodes.has(ns.ino)) files.push(join(netnsDir, f));
  }
  return files;
}

/**
 * Shims started for the containerd of `dir` and `socket` (cmdline has `-address <socket>`): SIGKILL by PID, remove
 * their sockets. Returns the netns files of their pods (found before the kill: netnsOfShims), for the caller to remove.
 */
export async function killLeftoverShims(dir: string, socket: string): Promise<string[]> {
  const taskDir = join(dir, 'state', 'io.containerd.runtime.v2.task', 'k8s.io');
  const sockets: string[] = [];
  for (const id of await readdir(taskDir).catch(ifGone([] as string[]))) {
    const addr = await readFile(join(taskDir, id, 'address'), 'utf8').catch(ifGone(''));
    if (addr.startsWith('unix://')) sockets.push(addr.slice('unix://'.length).trim());
  }
  const shims = new Set(await shimPids(socket));
  const netns = await netnsOfShims(shims);
  for (const pid of shims) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
  for (const s of sockets) await unlink(s).catch(ifGone(undefined));
  return netns;
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
