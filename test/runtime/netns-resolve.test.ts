import { mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../agent/errors.js';
import { hostPath, resolveNetns, validateId, validatePid } from '../../agent/runtime/netns-resolve.js';

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
  it('finds a runtime-reported netns path (no pid) through a host-root symlink', async () => {
    const { root, netnsFile } = await hostRootWithVarRunLink();
    const ref = await resolveNetns({ pid: null, netnsPath: '/var/run/netns/cni-1234' }, { procRoot: '/proc', hostRoot: root });
    expect(ref).toEqual({ inode: statSync(netnsFile).ino, path: netnsFile });
  });

  it('prefers the pid, and says why when neither works', async () => {
    const self = await resolveNetns({ pid: process.pid, netnsPath: null }, { procRoot: '/proc', hostRoot: '/' });
    expect(self).toEqual({ inode: statSync(`/proc/${process.pid}/ns/net`).ino, path: `/proc/${process.pid}/ns/net` });
    await expect(resolveNetns({ pid: null, netnsPath: null }, { procRoot: '/proc', hostRoot: '/' })).rejects.toThrow(
      'runtime reported neither a pid nor a netns path',
    );
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
