/**
 * The agent in a cgroup namespace of its own (as a Kubernetes container on cgroup v2): the other containers'
 * /proc/<pid>/cgroup paths climb out of it with `..`, and their counters are still read from the host's cgroup
 * filesystem. On the machine's real cgroup hierarchies (v1 cpuacct + memory here, or the v2 unified one): a "container"
 * cgroup named with a 64-hex ID holding a real `sleep`, and a child Node process that moves itself into an "agent"
 * cgroup, unshares its cgroup namespace (unshare(2) through koffi, as `unshare --cgroup` does) and reads the
 * container through dist/'s CgroupStatsReader, its own view of the hierarchies being their agent directories (what
 * the runtime mounts at a container's /sys/fs/cgroup). Proves: the paths it sees really are relative (`/../ctr-…`),
 * the root is found by identity, the usage is the one the host's files give, and without its own view nothing is
 * read (the runtime fallback, as before).
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { detectCgroupLayout } from '../../agent/runtime/cgroup-stats.js';
import { NamespaceRootCache, findNamespaceRoot } from '../../agent/runtime/cgroup-namespace.js';
import { killAndWait } from '../helpers/chaos-stand-ins.js';
import { describeIntegration } from '../helpers/env.js';

const CGROUP = '/sys/fs/cgroup';
const ID = 'c0ffee'.repeat(10) + 'c0de';
const dist = new URL('../../dist/agent/runtime/cgroup-stats.js', import.meta.url);

/** The child: into the agent cgroups, a cgroup namespace of its own, then one read of the container. */
const CHILD = `
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
const [distUrl, root, own, agentDirs, id, pid] = process.argv.slice(1);
for (const d of JSON.parse(agentDirs)) writeFileSync(d + '/cgroup.procs', String(process.pid));
const koffi = createRequire(import.meta.url)('koffi');
const unshare = koffi.load('libc.so.6').func('int unshare(int flags)');
if (unshare(0x02000000) !== 0) throw new Error('unshare(CLONE_NEWCGROUP) failed');
const { CgroupStatsReader } = await import(distUrl);
const reader = new CgroupStatsReader({ cgroupRoot: root, procRoot: '/proc', ...(own ? { ownCgroupRoot: own } : {}) });
const layout = await reader.prepare();
const result = reader.read({ id, pid: Number(pid) });
process.stdout.write(JSON.stringify({ layout, lines: readFileSync('/proc/' + pid + '/cgroup', 'utf8'), result, roots: reader.namespaceRoots, problems: reader.namespaceProblems }));
reader.close();
`;

describeIntegration('stats of a container seen from a cgroup namespace of the agent\'s own', { root: true, commands: ['sleep'] }, () => {
  let hierarchies: string[]; // '' (v2) or 'cpuacct' and 'memory' (v1)
  let mode: 'v1' | 'v2';
  let tag: string;
  let own: string;
  let sleeper: ResultPromise | null = null;
  const made: string[] = [];
  const dir = (h: string, ...rest: string[]): string => join(CGROUP, h, tag, ...rest);

  beforeAll(async () => {
    const layout = await detectCgroupLayout(CGROUP);
    if (!layout.ok) throw new Error(layout.reason);
    mode = layout.mode;
    hierarchies = mode === 'v2' ? [''] : ['cpuacct', 'memory'];
    tag = `cna-nsroot-${process.pid}`;
    for (const h of hierarchies) {
      for (const d of [dir(h), dir(h, 'agent'), dir(h, `ctr-${ID}`)]) {
        mkdirSync(d);
        made.unshift(d);
      }
      if (mode === 'v2') writeFileSync(join(dir(h), 'cgroup.subtree_control'), '+cpu +memory');
    }
    sleeper = execa('sleep', ['600'], { reject: false });
    for (const h of hierarchies) writeFileSync(join(dir(h, `ctr-${ID}`), 'cgroup.procs'), String(sleeper.pid));
    // The agent's own view: each hierarchy rooted at its agent cgroup, as the runtime mounts it in a container.
    own = await mkdtemp(join(tmpdir(), 'cna-owncgroup-'));
    if (mode === 'v1') for (const h of hierarchies) symlinkSync(dir(h, 'agent'), join(own, h));
  });

  afterAll(async () => {
    if (sleeper?.pid !== undefined) await killAndWait(sleeper.pid, 'SIGKILL').catch((err: unknown) => void err);
    for (const d of made) if (existsSync(d)) rmdirSync(d); // empty once their processes exited
    if (own) await rm(own, { recursive: true, force: true });
  });

  async function readFromNamespace(withOwnView: boolean): Promise<{ lines: string; result: Record<string, unknown>; roots: Record<string, string | null>; problems: string[] }> {
    const ownView = mode === 'v2' ? dir('', 'agent') : own;
    const r = await execa(process.execPath, ['--input-type=module', '-e', CHILD, dist.href, CGROUP, withOwnView ? ownView : '', JSON.stringify(hierarchies.map((h) => dir(h, 'agent'))), ID, String(sleeper!.pid)], { timeout: 30_000 });
    return JSON.parse(r.stdout) as never;
  }

  /** The usage as containerd computes it, from the host's files directly. */
  function hostUsage(): { cpuSeconds: number; memoryWorkingSetBytes: number } {
    const read = (h: string, f: string): string => readFileSync(join(dir(h, `ctr-${ID}`), f), 'utf8');
    const key = (text: string, k: string): number => Number(text.split('\n').find((l) => l.startsWith(`${k} `))!.split(' ')[1]);
    if (mode === 'v2') {
      const usage = Number(read('', 'memory.current'));
      const inactive = key(read('', 'memory.stat'), 'inactive_file');
      return { cpuSeconds: (key(read('', 'cpu.stat'), 'usage_usec') * 1000) / 1e9, memoryWorkingSetBytes: Math.max(0, usage - inactive) };
    }
    const usage = Number(read('memory', 'memory.usage_in_bytes'));
    const inactive = key(read('memory', 'memory.stat'), 'total_inactive_file');
    return { cpuSeconds: Number(read('cpuacct', 'cpuacct.usage')) / 1e9, memoryWorkingSetBytes: Math.max(0, usage - inactive) };
  }

  it('sees paths that climb out of its namespace, finds its root by identity, and reads the host\'s counters', async () => {
    const r = await readFromNamespace(true);
    // The kernel shows the container's cgroup relative to the child's namespace: one level up, then ctr-<id>.
    const shown = r.lines.split('\n').filter((l) => l.endsWith(`ctr-${ID}`));
    expect(shown.length).toBe(hierarchies.length);
    for (const l of shown) expect(l.slice(l.indexOf(':', l.indexOf(':') + 1) + 1)).toBe(`/../ctr-${ID}`);
    expect(r.problems).toEqual([]);
    expect(r.roots).toEqual(mode === 'v2' ? { unified: `${tag}/agent` } : { cpuacct: `${tag}/agent`, memory: `${tag}/agent` });
    expect(r.result).toEqual({ ok: true, ...hostUsage() });
  });

  it('without its own view of the hierarchy such paths are not read: the runtime is asked, as before', async () => {
    const r = await readFromNamespace(false);
    expect(r.roots).toEqual({});
    expect(r.result).toMatchObject({ ok: false, reason: expect.stringContaining('outside the agent\'s cgroup namespace') });
  });

  it('findNamespaceRoot: the host\'s root itself, a directory deep below, none; the cache checks with one stat and searches again when the cgroup is replaced', () => {
    const h = hierarchies[hierarchies.length - 1]!;
    const host = join(CGROUP, h);
    const id = (path: string): string => {
      const st = statSync(path, { bigint: true });
      return `${st.dev}:${st.ino}`;
    };
    expect(findNamespaceRoot(host, host)).toEqual({ ok: true, rel: '', id: id(host) });
    const deep = dir(h, 'agent', 'x', 'y');
    mkdirSync(deep, { recursive: true });
    try {
      expect(findNamespaceRoot(host, deep)).toEqual({ ok: true, rel: `${tag}/agent/x/y`, id: id(deep) });
      expect(findNamespaceRoot(host, tmpdir())).toMatchObject({ ok: false, reason: expect.stringContaining('is not under') });
      expect(findNamespaceRoot(host, deep, 1)).toMatchObject({ ok: false, reason: expect.stringContaining('first 1 cgroups') });
      const cache = new NamespaceRootCache(host, deep, { retryMs: 60_000 });
      expect([cache.get(), cache.get(), cache.searches]).toEqual([{ ok: true, rel: `${tag}/agent/x/y` }, { ok: true, rel: `${tag}/agent/x/y` }, 1]);
      rmdirSync(deep);
      mkdirSync(deep); // the same name, another cgroup (another inode): found again by a new search
      expect([cache.get(), cache.searches]).toEqual([{ ok: true, rel: `${tag}/agent/x/y` }, 2]);
      rmdirSync(deep);
      expect(cache.get()).toMatchObject({ ok: false });
      expect([cache.get().ok, cache.searches]).toEqual([false, 3]); // a failed search is not retried within retryMs
    } finally {
      for (const d of [deep, dir(h, 'agent', 'x')]) if (existsSync(d)) rmdirSync(d);
    }
  });
});
