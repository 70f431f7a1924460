/**
 * Reading a container's counters through <procRoot>/<pid>/cgroup and a cgroup root: a temp directory laid out like
 * a cgroup v2 hierarchy (and a v1 one), and the mode detection on the machine's real cgroup filesystem.
 */
import { closeSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CgroupMode } from '../../agent/runtime/cgroup-parse.js';
import { detectCgroupLayout, hostCgroupRoot, openContainerCounters, readCounters } from '../../agent/runtime/cgroup-stats.js';

/** Open, read twice (the second read from the same descriptors, as across collections), close. */
function readContainerUsage(layout: { root: string; mode: CgroupMode }, procRoot: string, c: { id: string; pid: number }) {
  const opened = openContainerCounters(layout, procRoot, c);
  if (!opened.ok) return opened;
  try {
    const first = readCounters(layout.mode, opened.fds);
    expect(readCounters(layout.mode, opened.fds)).toEqual(first);
    return first;
  } finally {
    for (const fd of opened.fds) closeSync(fd);
  }
}

const ID = 'f'.repeat(64);
const PID = 4242;

describe('readContainerUsage on a directory laid out like a cgroup hierarchy', () => {
  let dir: string;
  let proc: string;
  const put = (path: string, text: string): void => {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  };
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cna-cgroup-'));
    proc = join(dir, 'proc');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('v2: cpu.stat, memory.current and memory.stat of the unified cgroup the PID is in', () => {
    const cg = `kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-${ID}.scope`;
    put(`proc/${PID}/cgroup`, `0::/${cg}\n`);
    put(`v2/${cg}/cpu.stat`, 'usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n');
    put(`v2/${cg}/memory.current`, '10485760\n');
    put(`v2/${cg}/memory.stat`, 'anon 4194304\nfile 6291456\nactive_file 2097152\ninactive_file 4194304\n');
    expect(readContainerUsage({ root: join(dir, 'v2'), mode: 'v2' }, proc, { id: ID, pid: PID }))
      .toEqual({ ok: true, cpuSeconds: 2.5, memoryWorkingSetBytes: 6291456 });
  });

  it('v1: cpuacct/<path>/cpuacct.usage and memory/<path>/{memory.usage_in_bytes,memory.stat}', () => {
    put(`proc/${PID + 1}/cgroup`, `4:memory:/k8s.io/${ID}\n2:cpu,cpuacct:/k8s.io/${ID}\n`);
    put(`v1/cpuacct/k8s.io/${ID}/cpuacct.usage`, '1500000000\n');
    put(`v1/memory/k8s.io/${ID}/memory.usage_in_bytes`, '3000000\n');
    put(`v1/memory/k8s.io/${ID}/memory.stat`, 'inactive_file 1\ntotal_inactive_file 1000000\n');
    expect(readContainerUsage({ root: join(dir, 'v1'), mode: 'v1' }, proc, { id: ID, pid: PID + 1 }))
      .toEqual({ ok: true, cpuSeconds: 1.5, memoryWorkingSetBytes: 2000000 });
  });

  it('gives a reason, never a value, when the PID is gone, a file is missing, or the cgroup is another container\'s', () => {
    // No /proc/<pid>: the container stopped since its listing (the stats collector does not count it as unread).
    expect(readContainerUsage({ root: join(dir, 'v2'), mode: 'v2' }, proc, { id: ID, pid: 999_999 })).toEqual({ ok: false, reason: 'process 999999 is gone', gone: true });
    put(`proc/${PID + 2}/cgroup`, `0::/k8s.io/${ID}\n`);
    expect(readContainerUsage({ root: join(dir, 'v2'), mode: 'v2' }, proc, { id: ID, pid: PID + 2 })).toMatchObject({ ok: false, reason: expect.stringContaining('ENOENT') });
    expect(readContainerUsage({ root: join(dir, 'v2'), mode: 'v2' }, proc, { id: 'e'.repeat(64), pid: PID })).toMatchObject({ ok: false, reason: expect.stringContaining('not the container\'s') });
    expect(readContainerUsage({ root: join(dir, 'v2'), mode: 'v2' }, proc, { id: ID, pid: -1 })).toEqual({ ok: false, reason: 'bad pid -1' });
  });

  it('directories that are no cgroup filesystem are refused as a root', async () => {
    // v1/ has cpuacct/ and memory/ directories, but on the temp filesystem.
    expect(await detectCgroupLayout(join(dir, 'v1'))).toMatchObject({ ok: false, reason: expect.stringContaining('cpuacct is not a cgroup v1 mount') });
    expect(await detectCgroupLayout(join(dir, 'absent'))).toMatchObject({ ok: false, reason: expect.stringContaining('ENOENT') });
  });
});

describe('detectCgroupLayout on this machine', () => {
  it('finds the hierarchy containerd uses: v1 when /sys/fs/cgroup is not itself a cgroup2 mount (hybrid included)', async () => {
    const fsType = (await import('node:fs')).statfsSync('/sys/fs/cgroup').type;
    const want = fsType === 0x63677270 ? 'v2' : 'v1';
    expect(await detectCgroupLayout(hostCgroupRoot('/'))).toEqual({ ok: true, root: '/sys/fs/cgroup', mode: want });
  });
});
