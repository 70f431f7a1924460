import { mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../agent/errors.js';
import { hostPath, netnsInode, netnsInodeSync, resolveNetns, validateId, validatePid } from '../../agent/runtime/netns-resolve.js';
import { describeIntegration } from '../helpers/env.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A host root laid out like a node mounted at /host: var/run -> /run (absolute, as on Debian), run/netns/<file>. */
async function hostRootWithVarRunLink(): Promise<{ root: string; netnsFile: string }> {
  const root = await mkdtemp(join(tmpdir(), 'cna-nsres-'));
  dirs.push(root);
  mkdirSync(join(root, 'run/netns'), { recursive: true });
  mkdirSync(join(root, 'var'), { recursive: true });
  symlinkSync('/run', join(root, 'var/run'));
  const netnsFile = join(root, 'run/netns/cni-1234');
  writeFileSync(netnsFile, '');
  return { root, netnsFile };
}

describe('hostPath', () => {
  it('resolves symlinks of a reported path inside the host root, not against the agent filesystem', async () => {
    const { root, netnsFile } = await hostRootWithVarRunLink();
    expect(hostPath(root, '/var/run/netns/cni-1234')).toBe(netnsFile);
    expect(hostPath(root, '/run/netns/cni-1234')).toBe(netnsFile);
    expect(hostPath('/', '/var/run/netns/cni-1234')).toBe('/var/run/netns/cni-1234');
  });

  it('refuses relative, `..`, NUL and non-string paths', () => {
    for (const bad of ['run/netns/x', '/var/run/../../etc/shadow', '/a\0b', '', 42, null]) {
      expect(() => hostPath('/host', bad)).toThrow(ValidationError);
    }
  });
});

describe('resolveNetns', () => {
  it('a reported netns path naming a FIFO, a plain file or a directory is refused (stat and statfs only: a FIFO is never opened)', async () => {
    const { root, netnsFile } = await hostRootWithVarRunLink();
    const fifo = join(root, 'run/netns/cni-fifo');
    await execa('mkfifo', [fifo]);
    mkdirSync(join(root, 'run/netns/cni-dir'));
    const fsType = (await statfs(netnsFile)).type.toString(16);
    const cases: [string, string][] = [
      ['cni-fifo', `netns ${fifo}: not a namespace file (a FIFO)`],
      ['cni-1234', `netns ${netnsFile}: not a namespace file (a regular file on a filesystem of type 0x${fsType}, not nsfs)`],
      ['cni-dir', `netns ${join(root, 'run/netns/cni-dir')}: not a namespace file (a directory)`],
    ];
    for (const [name, message] of cases) {
      const err = await resolveNetns({ pid: null, netnsPath: `/var/run/netns/${name}` }, { procRoot: '/proc', hostRoot: root }).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).message).toBe(message);
    }
    // The same check on the PID's /proc/<pid>/ns/net (netnsInode): a plain file there is refused too.
    await expect(netnsInode(netnsFile)).rejects.toThrow(ValidationError);
    expect(await netnsInode(`/proc/${process.pid}/ns/net`)).toBe(statSync(`/proc/${process.pid}/ns/net`).ino);
  });

  it('prefers the pid, and says why when neither works', async () => {
    const self = await resolveNetns({ pid: process.pid, netnsPath: null }, { procRoot: '/proc', hostRoot: '/' });
    expect(self).toEqual({ inode: statSync(`/proc/${process.pid}/ns/net`).ino, path: `/proc/${process.pid}/ns/net` });
    await expect(resolveNetns({ pid: null, netnsPath: null }, { procRoot: '/proc', hostRoot: '/' })).rejects.toThrow(
      'runtime reported neither a pid nor a netns path',
    );
  });
});

function errorCode(f: () => unknown): string | undefined {
  try {
    f();
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code;
  }
}

describeIntegration('netnsInodeSync on a real namespace link', { root: true, commands: ['unshare', 'sleep'] }, () => {
  it('a procfs namespace link: the inode stat gives; once its process is gone, the error stat gives', async () => {
    const child = spawn('unshare', ['-n', 'sleep', '30'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 300));
      const path = `/proc/${child.pid}/ns/net`;
      expect(netnsInodeSync(path, true)).toBe(statSync(path).ino);
      expect(netnsInodeSync(path, true)).not.toBe(statSync('/proc/self/ns/net').ino);
      expect(netnsInodeSync('/proc/self/ns/net', true)).toBe(statSync('/proc/self/ns/net').ino);
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      await new Promise((r) => setTimeout(r, 100));
      expect(errorCode(() => netnsInodeSync(path, true))).toBe(errorCode(() => statSync(path)));
      expect(errorCode(() => netnsInodeSync(path, true))).toBeDefined();
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('netnsInodeSync', () => {
  it('anything but a namespace link (a file, a symlink whose target text looks like one): what stat gives', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cna-nsino-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'net:[1]'), '');
    symlinkSync('net:[1]', join(dir, 'link'));
    writeFileSync(join(dir, 'file'), '');
    for (const name of ['link', 'file']) {
      expect(netnsInodeSync(join(dir, name), false)).toBe(statSync(join(dir, name)).ino);
    }
    expect(netnsInodeSync(join(dir, 'file'), true)).toBe(statSync(join(dir, 'file')).ino);
    expect(errorCode(() => netnsInodeSync(join(dir, 'none'), true))).toBe('ENOENT');
  });
});

describe('validateId / validatePid', () => {
  it('accepts runtime ids and pids, refuses anything that could name another path', () => {
    expect(validateId('sandbox', 'a'.repeat(64))).toBe('a'.repeat(64));
    for (const bad of ['../x', 'a/b', '', '-x', 'a'.repeat(129), 7]) expect(() => validateId('sandbox', bad)).toThrow(ValidationError);
    expect(validatePid('pid', '42')).toBe(42);
    for (const bad of [0, -1, 1.5, '4x', 4_194_305, null]) expect(() => validatePid('pid', bad)).toThrow(ValidationError);
  });
});

describeIntegration('resolveNetns on a real namespace file', { root: true, commands: ['mount', 'umount'] }, () => {
  const mounted: string[] = [];
  afterAll(async () => {
    for (const m of mounted) await execa('umount', [m], { timeout: 10_000 });
  });

  it('finds a runtime-reported netns path (no pid, a bind mount of a namespace) through a host-root symlink', async () => {
    const { root, netnsFile } = await hostRootWithVarRunLink();
    await execa('mount', ['--bind', '/proc/self/ns/net', netnsFile], { timeout: 10_000 });
    mounted.push(netnsFile);
    const ref = await resolveNetns({ pid: null, netnsPath: '/var/run/netns/cni-1234' }, { procRoot: '/proc', hostRoot: root });
    expect(ref).toEqual({ inode: statSync('/proc/self/ns/net').ino, path: netnsFile });
  });
});
