import { linkSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverCandidates, endpointCandidates, endpointsFromConfig, resolveInRoot } from '../../agent/runtime/detect.js';

const servers: net.Server[] = [];
const dirs: string[] = [];

async function listen(path: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  const s = net.createServer();
  servers.push(s);
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(path, resolve);
  });
}

async function hostRoot(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'cna-detect-'));
  dirs.push(d);
  return d;
}

afterAll(async () => {
  for (const s of servers) await new Promise<void>((r) => s.close(() => r()));
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('endpoint discovery under a host root', () => {
  let root: string;
  beforeAll(async () => {
    // A Debian-like host: /var/run is an ABSOLUTE symlink to /run (must resolve inside the host root).
    root = await hostRoot();
    mkdirSync(join(root, 'var'), { recursive: true });
    symlinkSync('/run', join(root, 'var/run'));
    await listen(join(root, 'run/containerd/containerd.sock'));
    await listen(join(root, 'run/crio/crio.sock'));
    writeFileSync(join(root, 'run/cri-dockerd.sock'), 'not a socket');
    await listen(join(root, 'run/docker.sock'));
  });

  it('lists every distinct candidate, found or not, with the reason; /var/run and /run are one socket', () => {
    expect(discoverCandidates(root)).toEqual([
      {
        endpoint: { protocol: 'cri', url: 'unix:///run/containerd/containerd.sock', socketPath: join(root, 'run/containerd/containerd.sock'), source: 'discovered', expected: 'containerd' },
        found: true,
        error: null,
      },
      {
        endpoint: { protocol: 'cri', url: 'unix:///run/k3s/containerd/containerd.sock', socketPath: join(root, 'run/k3s/containerd/containerd.sock'), source: 'discovered', expected: 'k3s' },
        found: false,
        error: `k3s: no socket at /run/k3s/containerd/containerd.sock (${join(root, 'run/k3s/containerd/containerd.sock')})`,
      },
      {
        endpoint: { protocol: 'cri', url: 'unix:///var/run/crio/crio.sock', socketPath: join(root, 'run/crio/crio.sock'), source: 'discovered', expected: 'cri-o' },
        found: true,
        error: null,
      },
      {
        endpoint: { protocol: 'cri', url: 'unix:///var/run/cri-dockerd.sock', socketPath: join(root, 'run/cri-dockerd.sock'), source: 'discovered', expected: 'cri-dockerd' },
        found: false,
        error: `cri-dockerd: /var/run/cri-dockerd.sock (${join(root, 'run/cri-dockerd.sock')}) is not a socket`,
      },
      {
        endpoint: { protocol: 'docker', url: 'unix:///var/run/docker.sock', socketPath: join(root, 'run/docker.sock'), source: 'discovered', expected: 'docker' },
        found: true,
        error: null,
      },
    ]);
  });

  it('endpointsFromConfig keeps only the sockets that exist', () => {
    const eps = endpointsFromConfig({ runtimeEndpoints: [], dockerEndpoints: [], hostRoot: root });
    expect(eps.map((e) => `${e.protocol} ${e.url} ${e.socketPath}`)).toEqual([
      `cri unix:///run/containerd/containerd.sock ${join(root, 'run/containerd/containerd.sock')}`,
      `cri unix:///var/run/crio/crio.sock ${join(root, 'run/crio/crio.sock')}`,
      `docker unix:///var/run/docker.sock ${join(root, 'run/docker.sock')}`,
    ]);
  });

  it('explicit endpoints replace discovery and are not prefixed with the host root', () => {
    const cfg = { runtimeEndpoints: ['unix:///srv/a/containerd.sock', 'unix:///srv/b/crio.sock'], dockerEndpoints: ['unix:///srv/docker.sock'], hostRoot: root };
    expect(endpointsFromConfig(cfg)).toEqual([
      { protocol: 'cri', url: 'unix:///srv/a/containerd.sock', socketPath: '/srv/a/containerd.sock', source: 'flag' },
      { protocol: 'cri', url: 'unix:///srv/b/crio.sock', socketPath: '/srv/b/crio.sock', source: 'flag' },
      { protocol: 'docker', url: 'unix:///srv/docker.sock', socketPath: '/srv/docker.sock', source: 'flag' },
    ]);
    // Docker alone given: no discovery of CRI sockets either.
    expect(endpointCandidates({ runtimeEndpoints: [], dockerEndpoints: ['unix:///srv/docker.sock'], hostRoot: root }).map((c) => c.endpoint.url)).toEqual([
      'unix:///srv/docker.sock',
    ]);
  });

  it('an empty host root yields no endpoints and six reasons', async () => {
    const empty = await hostRoot();
    const c = discoverCandidates(empty);
    expect(c.map((x) => x.found)).toEqual([false, false, false, false, false, false]);
    expect(c.map((x) => x.error)).toEqual([
      `containerd: no socket at /run/containerd/containerd.sock (${empty}/run/containerd/containerd.sock)`,
      `k3s: no socket at /run/k3s/containerd/containerd.sock (${empty}/run/k3s/containerd/containerd.sock)`,
      `cri-o: no socket at /var/run/crio/crio.sock (${empty}/var/run/crio/crio.sock)`,
      `cri-o: no socket at /run/crio/crio.sock (${empty}/run/crio/crio.sock)`,
      `cri-dockerd: no socket at /var/run/cri-dockerd.sock (${empty}/var/run/cri-dockerd.sock)`,
      `docker: no socket at /var/run/docker.sock (${empty}/var/run/docker.sock)`,
    ]);
    expect(endpointsFromConfig({ runtimeEndpoints: [], dockerEndpoints: [], hostRoot: empty })).toEqual([]);
  });

  it('the same socket reached by two names (hard link) is used once', async () => {
    const r = await hostRoot();
    await listen(join(r, 'run/crio/crio.sock'));
    mkdirSync(join(r, 'var/run/crio'), { recursive: true });
    linkSync(join(r, 'run/crio/crio.sock'), join(r, 'var/run/crio/crio.sock'));
    const found = endpointsFromConfig({ runtimeEndpoints: [], dockerEndpoints: [], hostRoot: r });
    expect(found).toEqual([
      { protocol: 'cri', url: 'unix:///var/run/crio/crio.sock', socketPath: join(r, 'var/run/crio/crio.sock'), source: 'discovered', expected: 'cri-o' },
    ]);
  });

  it('with host root /, paths are used as they are', () => {
    const c = discoverCandidates('/');
    expect(c[0]!.endpoint.url).toBe('unix:///run/containerd/containerd.sock');
    expect(c.every((x) => x.endpoint.socketPath.startsWith('/run/') || x.endpoint.socketPath.startsWith('/var/run/'))).toBe(true);
  });
});

describe('resolveInRoot', () => {
  it('keeps absolute and relative symlinks, and .., inside the root', async () => {
    const r = await hostRoot();
    mkdirSync(join(r, 'run/real'), { recursive: true });
    mkdirSync(join(r, 'var'), { recursive: true });
    symlinkSync('../../../../../../run', join(r, 'var/run'));
    symlinkSync('/run/real', join(r, 'run/abs'));
    expect(resolveInRoot(r, '/var/run/x.sock')).toBe(join(r, 'run/x.sock'));
    expect(resolveInRoot(r, '/run/abs/y.sock')).toBe(join(r, 'run/real/y.sock'));
    expect(resolveInRoot(r, '/../../etc/passwd')).toBe(join(r, 'etc/passwd'));
    expect(resolveInRoot(r, '/missing/../../etc/shadow')).toBe(join(r, 'missing/etc/shadow'));
  });

  it('a symlink loop stops after 40 links', async () => {
    const r = await hostRoot();
    symlinkSync('/loop', join(r, 'loop'));
    expect(resolveInRoot(r, '/loop/a')).toBe(join(r, 'loop/a'));
  });
});
