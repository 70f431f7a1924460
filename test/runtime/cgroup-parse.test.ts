/**
 * containerd's stats formulas on literal cgroup file contents in the kernel's documented formats
 * (Documentation/admin-guide/cgroup-v1/{cpuacct,memory}.rst, cgroup-v2.rst), and the path checks that decide
 * whether a /proc/<pid>/cgroup line may be read as the container's cgroup.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { containerCgroupDirs, resolveCgroupPath, parseKeyedU64Bytes, parseU64File, safeCgroupPath, usageFromValues, USAGE_KEYS, workingSet } from '../../agent/runtime/cgroup-parse.js';
import { parseCgroupFile } from '../../agent/proc/proc-files.js';

/** parseKeyedU64Bytes on a literal file's text. */
const keyed = (text: string, key: string): bigint | null => parseKeyedU64Bytes(Buffer.from(text), Buffer.byteLength(text), key);

/** A flat-keyed file read the obvious way: the first line whose text before its first space is `key`. */
const keyedReference = (text: string, key: string): bigint | null => {
  for (const line of text.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp < 0 || line.slice(0, sp) !== key) continue;
    return parseU64File(line.slice(sp + 1));
  }
  return null;
};

/** cgroup-stats.ts readCounters on the three files' literal contents. */
const usageV1 = (f: { cpuacctUsage: string; memoryUsage: string; memoryStat: string }) =>
  usageFromValues('v1', parseU64File(f.cpuacctUsage), parseU64File(f.memoryUsage), keyed(f.memoryStat, USAGE_KEYS.v1.inactive));
const usageV2 = (f: { cpuStat: string; memoryCurrent: string; memoryStat: string }) =>
  usageFromValues('v2', keyed(f.cpuStat, USAGE_KEYS.v2.cpu), parseU64File(f.memoryCurrent), keyed(f.memoryStat, USAGE_KEYS.v2.inactive));

const ID = '334852c99b151e55a47356afcdf71e93e820f225ae72f8751e481e6459f14ca0';
const OTHER = '0265f7963c05cd1e7636a28e668afcbc7b7a232c96ed8988bfc3b3f5f3dba36c';

const V1_MEMORY_STAT = `cache 2297856
rss 438272
rss_huge 0
shmem 0
mapped_file 1216512
inactive_anon 0
active_anon 438272
inactive_file 1081344
active_file 1216512
unevictable 0
hierarchical_memory_limit 9223372036854771712
total_cache 2297856
total_rss 438272
total_inactive_anon 0
total_active_anon 438272
total_inactive_file 1081344
total_active_file 1216512
total_unevictable 0
`;

const V2_CPU_STAT = `usage_usec 1234567
user_usec 1000000
system_usec 234567
nr_periods 0
nr_throttled 0
throttled_usec 0
`;

const V2_MEMORY_STAT = `anon 438272
file 2297856
kernel_stack 16384
active_anon 438272
inactive_anon 0
active_file 1216512
inactive_file 1081344
unevictable 0
`;

describe('cgroup counter files', () => {
  it('parses one unsigned decimal per file, up to 2^64-1, and refuses anything else', () => {
    expect(parseU64File('2736128\n')).toBe(2736128n);
    expect(parseU64File('18446744073709551615\n')).toBe(18446744073709551615n);
    expect(parseU64File('18446744073709551616')).toBeNull();
    expect(parseU64File('-1')).toBeNull();
    expect(parseU64File('max\n')).toBeNull();
    expect(parseU64File('')).toBeNull();
  });

  it('reads one key of a flat-keyed file, exactly that key (inactive_file is not total_inactive_file)', () => {
    expect(keyed(V1_MEMORY_STAT, 'total_inactive_file')).toBe(1081344n);
    expect(keyed(V2_MEMORY_STAT, 'inactive_file')).toBe(1081344n);
    expect(keyed('total_inactive_file 5\n', 'inactive_file')).toBeNull();
    expect(keyed(V2_CPU_STAT, 'usage_usec')).toBe(1234567n);
    expect(keyed('usage_usec x\n', 'usage_usec')).toBeNull();
  });

  it('reads a key from the bytes exactly as from their UTF-8 text, whatever the bytes (and what follows them)', () => {
    expect(parseKeyedU64Bytes(Buffer.from(V1_MEMORY_STAT), Buffer.byteLength(V1_MEMORY_STAT), 'total_inactive_file')).toBe(1081344n);
    expect(parseKeyedU64Bytes(Buffer.from(V2_CPU_STAT), Buffer.byteLength(V2_CPU_STAT), 'usage_usec')).toBe(1234567n);
    // Trimmed like the text: a trailing space, a UTF-8 no-break space or BOM around the value.
    for (const text of ['file 7 \n', 'x 1\nfile \u00a07\ufeff\n', 'file\u00a07\nfile 9']) {
      const b = Buffer.from(text);
      expect(parseKeyedU64Bytes(b, b.length, 'file')).toBe(keyedReference(text, 'file'));
      expect(keyedReference(text, 'file')).not.toBeNull();
    }
    // The first line with the key decides, even when its value is not a number.
    expect(parseKeyedU64Bytes(Buffer.from('file 7 7\nfile 8\n'), 16, 'file')).toBeNull();
    const piece = fc.oneof(
      fc.constantFrom('inactive_file', 'total_inactive_file', 'file', ' ', '\n', '\r', '\t', '7', '18446744073709551615', '18446744073709551616', 'x'),
      fc.constantFrom('\u00a0', '\ufeff', '\u2028', 'é').map((c) => c),
    ).map((t) => Buffer.from(t));
    const raw = fc.uint8Array({ maxLength: 4 }).map((a) => Buffer.from(a));
    const bytes = fc.array(fc.oneof(piece, piece, piece, raw), { maxLength: 30 }).map((a) => Buffer.concat(a));
    fc.assert(fc.property(bytes, fc.nat(40), fc.constantFrom('inactive_file', 'total_inactive_file', 'file', 'x'), (b, extra, key) => {
      // The scratch buffer holds older bytes past `len`: they must not count.
      const buf = Buffer.concat([b, Buffer.from(' 5\ninactive_file 9\n'.repeat(extra % 3))]);
      expect(parseKeyedU64Bytes(buf, b.length, key)).toBe(keyedReference(b.toString('utf8'), key));
    }), { numRuns: 5000 });
  });

  it('reads a key as splitting into lines does, on text made of keys, spaces, digits and newlines', () => {
    const text = fc.array(fc.constantFrom('inactive_file', 'total_inactive_file', 'file', ' ', ' ', '\n', '\n', '7', '12', 'x'), { maxLength: 40 }).map((a) => a.join(''));
    fc.assert(fc.property(text, fc.constantFrom('inactive_file', 'file', 'x'), (s, key) => {
      expect(keyed(s, key)).toBe(keyedReference(s, key));
    }), { numRuns: 5000 });
  });

  it('working set = usage - inactive file, 0 (not negative) when inactive file >= usage, as containerd clamps', () => {
    expect(workingSet(2736128n, 1081344n)).toBe(1654784n);
    expect(workingSet(1000n, 1000n)).toBe(0n);
    expect(workingSet(1000n, 5000n)).toBe(0n);
  });

  it('v1: CPU = cpuacct.usage ns, working set = usage_in_bytes - total_inactive_file', () => {
    expect(usageV1({ cpuacctUsage: '53189282\n', memoryUsage: '2736128\n', memoryStat: V1_MEMORY_STAT }))
      .toEqual({ ok: true, cpuSeconds: 0.053189282, memoryWorkingSetBytes: 1654784 });
    expect(usageV1({ cpuacctUsage: '1\n', memoryUsage: '2736128\n', memoryStat: 'cache 0\n' }))
      .toEqual({ ok: false, reason: 'memory.stat total_inactive_file unreadable' });
    expect(usageV1({ cpuacctUsage: 'garbage', memoryUsage: '1', memoryStat: V1_MEMORY_STAT }))
      .toEqual({ ok: false, reason: 'cpuacct.usage unreadable' });
  });

  it('v2: CPU = cpu.stat usage_usec * 1000 ns, working set = memory.current - inactive_file, clamped at 0', () => {
    expect(usageV2({ cpuStat: V2_CPU_STAT, memoryCurrent: '2736128\n', memoryStat: V2_MEMORY_STAT }))
      .toEqual({ ok: true, cpuSeconds: 1.234567, memoryWorkingSetBytes: 1654784 });
    expect(usageV2({ cpuStat: V2_CPU_STAT, memoryCurrent: '1000\n', memoryStat: V2_MEMORY_STAT }))
      .toEqual({ ok: true, cpuSeconds: 1.234567, memoryWorkingSetBytes: 0 });
    expect(usageV2({ cpuStat: 'user_usec 5\n', memoryCurrent: '1', memoryStat: V2_MEMORY_STAT }))
      .toEqual({ ok: false, reason: 'cpu.stat usage_usec unreadable' });
  });
});

describe('which cgroup is the container\'s', () => {
  it('keeps only plain absolute paths: no .., ., empty segment, NUL, or the root itself', () => {
    expect(safeCgroupPath(`/k8s.io/${ID}`)).toBe(`k8s.io/${ID}`);
    expect(safeCgroupPath('/kubepods.slice/kubepods-besteffort.slice/cri-containerd-x.scope')).toBe('kubepods.slice/kubepods-besteffort.slice/cri-containerd-x.scope');
    for (const bad of ['/', '', 'k8s.io/x', '/../../kubepods/x', '/k8s.io/../etc', '/k8s.io/./x', '/k8s.io//x', '/k8s.io/x/', '/k8s.io/x\0y']) {
      expect(safeCgroupPath(bad), bad).toBeNull();
    }
  });

  it('v1: the cpuacct and memory hierarchies, whatever their order and co-mounted controllers', () => {
    const lines = parseCgroupFile(`9:name=systemd:/k8s.io/${ID}\n4:memory:/k8s.io/${ID}\n2:cpu,cpuacct:/k8s.io/${ID}\n0::/\n`);
    expect(containerCgroupDirs(lines, 'v1', ID)).toEqual({ ok: true, cpu: `cpuacct/k8s.io/${ID}`, memory: `memory/k8s.io/${ID}` });
  });

  it('v2: the unified line; systemd\'s cri-containerd-<id>.scope names the container too', () => {
    const lines = parseCgroupFile(`0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-${ID}.scope\n`);
    const rel = `kubepods.slice/kubepods-pod1.slice/cri-containerd-${ID}.scope`;
    expect(containerCgroupDirs(lines, 'v2', ID)).toEqual({ ok: true, cpu: rel, memory: rel });
  });

  it('Docker\'s two forms name the container: cgroupfs /docker/<id> and systemd system.slice/docker-<id>.scope, on v1 and v2', () => {
    const cgroupfsV1 = parseCgroupFile(`12:pids:/docker/${ID}\n4:memory:/docker/${ID}\n3:cpu,cpuacct:/docker/${ID}\n0::/system.slice/containerd.service\n`);
    expect(containerCgroupDirs(cgroupfsV1, 'v1', ID)).toEqual({ ok: true, cpu: `cpuacct/docker/${ID}`, memory: `memory/docker/${ID}` });
    const systemdV1 = parseCgroupFile(`4:memory:/system.slice/docker-${ID}.scope\n3:cpu,cpuacct:/system.slice/docker-${ID}.scope\n0::/system.slice/docker-${ID}.scope\n`);
    expect(containerCgroupDirs(systemdV1, 'v1', ID)).toEqual({ ok: true, cpu: `cpuacct/system.slice/docker-${ID}.scope`, memory: `memory/system.slice/docker-${ID}.scope` });
    expect(containerCgroupDirs(parseCgroupFile(`0::/system.slice/docker-${ID}.scope\n`), 'v2', ID)).toEqual({ ok: true, cpu: `system.slice/docker-${ID}.scope`, memory: `system.slice/docker-${ID}.scope` });
    expect(containerCgroupDirs(parseCgroupFile(`0::/docker/${ID}\n`), 'v2', ID)).toEqual({ ok: true, cpu: `docker/${ID}`, memory: `docker/${ID}` });
    // Another Docker container's cgroup (a reused PID) and dockerd's own service are refused.
    expect(containerCgroupDirs(parseCgroupFile(`0::/system.slice/docker-${OTHER}.scope\n`), 'v2', ID)).toMatchObject({ ok: false, reason: expect.stringContaining('not the container\'s') });
    expect(containerCgroupDirs(parseCgroupFile('0::/system.slice/docker.service\n'), 'v2', ID)).toMatchObject({ ok: false, reason: expect.stringContaining('not the container\'s') });
  });

  it('refuses a cgroup that does not name the container (a reused PID), a hidden path, and a missing hierarchy', () => {
    const other = parseCgroupFile(`4:memory:/k8s.io/${OTHER}\n2:cpuacct:/k8s.io/${OTHER}\n`);
    expect(containerCgroupDirs(other, 'v1', ID)).toMatchObject({ ok: false, reason: expect.stringContaining('not the container\'s') });
    // The container's ID in a parent directory is not enough: the counters must be the container's own cgroup.
    const parent = parseCgroupFile(`0::/k8s.io/${ID}/child\n`);
    expect(containerCgroupDirs(parent, 'v2', ID)).toMatchObject({ ok: false, reason: expect.stringContaining('not the container\'s') });
    const hidden = parseCgroupFile(`0::/../../kubepods/${ID}\n`);
    expect(containerCgroupDirs(hidden, 'v2', ID)).toMatchObject({ ok: false, reason: expect.stringContaining('outside the agent\'s cgroup namespace') });
    const noMemory = parseCgroupFile(`2:cpuacct:/k8s.io/${ID}\n`);
    expect(containerCgroupDirs(noMemory, 'v1', ID)).toEqual({ ok: false, reason: 'no memory cgroup in /proc/<pid>/cgroup' });
    expect(containerCgroupDirs(parseCgroupFile(`0::/k8s.io/${ID}\n`), 'v1', ID)).toMatchObject({ ok: false });
    expect(containerCgroupDirs(parseCgroupFile('0::/k8s.io/abc\n'), 'v2', 'abc')).toMatchObject({ ok: false, reason: 'container ID unusable in a cgroup path' });
  });
});

describe('a path seen from a cgroup namespace of the agent\'s own (resolveCgroupPath)', () => {
  // The agent's pod on a systemd cgroup v2 node, its container's namespace rooted at its own scope (depth 4).
  const ROOT = 'kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podagent.slice/cri-containerd-agent.scope';

  it('climbs from the namespace root with each leading .., then descends: the cgroup under the host\'s mount', () => {
    expect(resolveCgroupPath(`/../../../kubepods-besteffort.slice/kubepods-besteffort-podb.slice/cri-containerd-${ID}.scope`, ROOT))
      .toBe(`kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podb.slice/cri-containerd-${ID}.scope`);
    expect(resolveCgroupPath(`/../../kubepods-burstable-podc.slice/cri-containerd-${ID}.scope`, ROOT))
      .toBe(`kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podc.slice/cri-containerd-${ID}.scope`);
    expect(resolveCgroupPath('/../../../../system.slice/containerd.service', ROOT)).toBe('system.slice/containerd.service');
    // Inside the namespace: below its root (the agent's own container is the root itself).
    expect(resolveCgroupPath('/', ROOT)).toBe(ROOT);
    expect(resolveCgroupPath('/sub', ROOT)).toBe(`${ROOT}/sub`);
  });

  it('refuses what climbs above the host\'s root, names that root, or is not plain after the leading ..', () => {
    for (const bad of ['/../../../../..', '/../../../../../x', '/../x/../y', '/../x/./y', '/../x//y', '/../x/', 'x', '', '/../x\0y']) {
      expect(resolveCgroupPath(bad, ROOT), bad).toBeNull();
    }
    expect(resolveCgroupPath('/../../../..', ROOT)).toBeNull(); // the hierarchy's root: never a container
  });

  it('without a namespace root (the host\'s namespace, or not found): plain absolute paths only, as before', () => {
    for (const nsRoot of [null, '']) {
      expect(resolveCgroupPath(`/k8s.io/${ID}`, nsRoot)).toBe(`k8s.io/${ID}`);
      expect(resolveCgroupPath(`/../../k8s.io/${ID}`, nsRoot)).toBeNull();
    }
  });

  it('containerCgroupDirs locates each hierarchy with its own root, then checks the container ID as always', () => {
    const v2 = parseCgroupFile(`0::/../../../kubepods-besteffort.slice/kubepods-besteffort-podb.slice/cri-containerd-${ID}.scope\n`);
    const rel = `kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podb.slice/cri-containerd-${ID}.scope`;
    expect(containerCgroupDirs(v2, 'v2', ID, { unified: ROOT })).toEqual({ ok: true, cpu: rel, memory: rel });
    expect(containerCgroupDirs(v2, 'v2', OTHER, { unified: ROOT })).toMatchObject({ ok: false, reason: expect.stringContaining('not the container\'s') });
    const v1 = parseCgroupFile(`4:memory:/../ctr-${ID}\n2:cpu,cpuacct:/../../t/ctr-${ID}\n`);
    expect(containerCgroupDirs(v1, 'v1', ID, { cpuacct: 't/agent/x', memory: 't/agent' })).toEqual({ ok: true, cpu: `cpuacct/t/t/ctr-${ID}`, memory: `memory/t/ctr-${ID}` });
    expect(containerCgroupDirs(v1, 'v1', ID, { cpuacct: 't/agent/x', memory: null })).toMatchObject({ ok: false, reason: expect.stringContaining('memory cgroup path') });
  });
});

