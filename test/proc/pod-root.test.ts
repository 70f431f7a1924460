/**
 * pod-root.ts on real files, with each flavour of calls (root-ops.ts). The "pod" here is this test process (its root
 * is the host's /), the tree under a temp dir; the same refusals inside real containerd pods are in
 * facts.containerd.test.ts.
 */
import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PodPathError } from '../../agent/errors.js';
import { readInRoot, statEntriesInRoot, statInRoot, type RootAccess } from '../../agent/proc/pod-root.js';
import { O_PATH } from '../../agent/proc/root-ops.js';
import { refusal } from '../helpers/pod-roots.js';

let dir: string;
/** Which calls the walks make (root-ops.ts): set by each block of the describe.each below. */
let sync = false;
const access = (extra: Partial<RootAccess> = {}): RootAccess => ({ procRoot: '/proc', pid: process.pid, deadline: Date.now() + 5000, sync, ...extra });
const MODES = [['thread-pool calls', false], ['synchronous calls (the root reader\'s worker thread)', true]] as const;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cna-root-'));
  await mkdir(join(dir, 'etc'));
  await writeFile(join(dir, 'etc', 'resolv.conf'), 'nameserver 10.96.0.10\n');
  await writeFile(join(dir, 'etc', 'huge'), 'x'.repeat(1024 * 1024));
  await symlink('/etc/hostname', join(dir, 'abs'));
  await symlink('loop2', join(dir, 'loop1'));
  await symlink('loop1', join(dir, 'loop2'));
  await symlink('etc', join(dir, 'etc-link'));
  await symlink('../' + dir.split('/').pop()! + '/etc/resolv.conf', join(dir, 'rel'));
  await symlink('etc/resolv.conf/x', join(dir, 'through-file'));
  await execa('mkfifo', [join(dir, 'fifo')], { timeout: 5000 });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe.each(MODES)('paths inside a root, %s', (_mode, mode) => {
  beforeAll(() => {
    sync = mode;
  });
  it('reads a regular file, and follows relative symlinks inside the root', async () => {
    expect(await readInRoot(access(), `${dir}/etc/resolv.conf`, 4096)).toEqual({ podPath: `${dir}/etc/resolv.conf`, text: 'nameserver 10.96.0.10\n', bytes: 22, truncated: false });
    expect((await readInRoot(access(), `${dir}/rel`, 4096))?.podPath).toBe(`${dir}/etc/resolv.conf`);
    expect((await readInRoot(access(), `${dir}/etc-link/resolv.conf`, 4096))?.text).toBe('nameserver 10.96.0.10\n');
    expect((await statInRoot(access(), `${dir}/etc-link`))?.stat.isDirectory()).toBe(true);
  });

  it('absent paths are null, not errors (also through a file used as a directory)', async () => {
    expect(await readInRoot(access(), `${dir}/etc/nope`, 4096)).toBeNull();
    expect(await readInRoot(access(), `${dir}/etc/resolv.conf/x`, 4096)).toBeNull();
    expect(await statInRoot(access(), `${dir}/through-file`)).toBeNull();
  });

  it('refuses an absolute symlink (it would resolve in the agent\'s root)', async () => {
    expect(await refusal(readInRoot(access(), `${dir}/abs`, 4096))).toBe('absolute-symlink');
  });

  it('refuses symlink loops after the hop limit', async () => {
    expect(await refusal(readInRoot(access(), `${dir}/loop1`, 4096))).toBe('too-many-links');
    expect(await refusal(readInRoot(access({ maxHops: 0 }), `${dir}/rel`, 4096))).toBe('too-many-links');
  });

  it('refuses `..` above the root, allows it below', async () => {
    expect(await refusal(readInRoot(access(), '/../etc/hostname', 4096))).toBe('escape');
    expect(await refusal(readInRoot(access(), `/tmp/${'../'.repeat(5)}etc/hostname`, 4096))).toBe('escape');
    expect((await readInRoot(access(), `${dir}/etc/../etc/resolv.conf`, 4096))?.podPath).toBe(`${dir}/etc/resolv.conf`);
  });

  it('caps reads where the cap is reached', async () => {
    const r = await readInRoot(access(), `${dir}/etc/huge`, 64 * 1024);
    expect(r).toMatchObject({ bytes: 65536, truncated: true });
    expect(r!.text).toHaveLength(65536);
  });

  it('reads regular files only (a FIFO would block a reader)', async () => {
    expect(await refusal(readInRoot(access(), `${dir}/fifo`, 4096))).toBe('not-regular');
    expect(await refusal(readInRoot(access(), `${dir}/etc`, 4096))).toBe('not-regular');
  });

  it('never walks into a mount that may block, and stops at the deadline', async () => {
    expect(await refusal(readInRoot(access({ blocking: [`${dir}/etc`] }), `${dir}/etc-link/resolv.conf`, 4096))).toBe('unsafe-mount');
    expect(await refusal(readInRoot(access({ deadline: Date.now() - 1 }), `${dir}/etc/resolv.conf`, 4096))).toBe('timeout');
  });

  it('a process that is gone is `vanished`', async () => {
    expect(await refusal(readInRoot(access({ pid: 4194303 }), '/etc/hostname', 4096))).toBe('vanished');
  });

  it('leaves no fd open, whatever the outcome', async () => {
    const fds = async () => (await readdir('/proc/self/fd')).length;
    const before = await fds();
    for (let i = 0; i < 20; i++) {
      await readInRoot(access(), `${dir}/rel`, 4096);
      await readInRoot(access(), `${dir}/loop1`, 4096).catch((err: unknown) => expect(err).toBeInstanceOf(PodPathError));
      await readInRoot(access(), `${dir}/abs`, 4096).catch((err: unknown) => expect(err).toBeInstanceOf(PodPathError));
      await statInRoot(access(), `${dir}/etc-link/resolv.conf`);
    }
    // Closes are not awaited (a close waits for the handle's pending calls): they land within a few ticks.
    // A deadline, not a count of 10 ms ticks (a loaded machine runs fewer ticks in the same time).
    for (const end = Date.now() + 10_000; (await fds()) !== before && Date.now() < end;) await new Promise((r) => setTimeout(r, 10));
    expect(await fds()).toBe(before);
  });
});

describe('a root fd shared by several walks (the root reader\'s worker)', () => {
  it('is used by every walk and closed by none, also when a walk ends on the root itself', async () => {
    const rootFd = openSync(`/proc/${process.pid}/root`, O_PATH | constants.O_DIRECTORY);
    try {
      const shared = (): RootAccess => access({ sync: true, rootFd });
      const before = (await readdir('/proc/self/fd')).length;
      expect((await readInRoot(shared(), `${dir}/rel`, 4096))?.text).toBe('nameserver 10.96.0.10\n');
      expect((await statInRoot(shared(), '/'))?.podPath).toBe('/');
      expect((await statInRoot(shared(), `${dir}/etc/../..`))?.stat.isDirectory()).toBe(true);
      expect(await refusal(readInRoot(shared(), `${dir}/abs`, 4096))).toBe('absolute-symlink');
      expect((await statEntriesInRoot(shared(), '/', ['proc']))?.entries.get('proc')?.isDirectory()).toBe(true);
      expect(fstatSync(rootFd).isDirectory()).toBe(true); // still open
      expect((await readdir('/proc/self/fd')).length).toBe(before); // and nothing else left open
    } finally {
      closeSync(rootFd);
    }
  });
});

describe.each(MODES)('entries of a directory inside a root, %s', (_mode, mode) => {
  beforeAll(() => {
    sync = mode;
  });
  it('lstats each name after one walk (symlinks reported, not followed)', async () => {
    const r = await statEntriesInRoot(access(), `${dir}/etc-link/..`, ['etc', 'abs', 'nope']);
    expect(r!.podPath).toBe(dir);
    expect(r!.entries.get('etc')?.isDirectory()).toBe(true);
    expect(r!.entries.get('abs')?.isSymbolicLink()).toBe(true);
    expect(r!.entries.get('nope')).toBeNull();
    expect(await statEntriesInRoot(access(), `${dir}/etc/resolv.conf`, ['x'])).toBeNull();
    expect(await statEntriesInRoot(access(), `${dir}/nope`, ['x'])).toBeNull();
    expect(await refusal(statEntriesInRoot(access(), `${dir}/abs`, ['x']))).toBe('absolute-symlink');
    expect(await refusal(statEntriesInRoot(access(), dir, ['../x']))).toBe('io');
  });
});
