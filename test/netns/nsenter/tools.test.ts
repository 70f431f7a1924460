/**
 * runTool: one tool in a namespace entered through an open fd, bounded by a timeout and an output cap, never a shell,
 * never a process left behind.
 */
import { closeSync, openSync, statSync } from 'node:fs';
import { afterAll, expect, it } from 'vitest';
import { runTool } from '../../../agent/netns/nsenter/tools.js';
import { describeIntegration } from '../../helpers/env.js';
import { createNetns, destroyAll, pidsInNetns, type TestNetns } from '../../helpers/netns.js';

const opts = { nsenterPath: 'nsenter', timeoutMs: 5000, maxOutputBytes: 1 << 20 };

async function withFd<T>(ns: TestNetns, fn: (fd: number) => Promise<T>): Promise<T> {
  const fd = openSync(ns.path, 'r');
  try {
    return await fn(fd);
  } finally {
    closeSync(fd);
  }
}

describeIntegration('runTool (real nsenter into a real netns through an fd)', { root: true, commands: ['nsenter', 'ip', 'tc', 'ipset'] }, () => {
  afterAll(destroyAll);

  it('runs the tool inside the namespace the fd names, even after its path is gone', async () => {
    const ns = await createNetns('h4x');
    await ns.addPodInterface({ addr: '10.253.0.2/24' });
    const fd = openSync(ns.path, 'r');
    try {
      const inode = statSync(ns.path).ino;
      await ns.destroy(); // path removed; the fd still pins the namespace
      const r = await runTool(fd, ['ip', '-j', 'link', 'show'], opts);
      expect(r.error).toBeNull();
      const names = (JSON.parse(r.stdout) as { ifname: string }[]).map((l) => l.ifname);
      expect(names).toContain('lo');
      expect(names).not.toContain('eth0'); // destroy() deleted the veth pair with its host end; the namespace itself lives on
      expect(inode).toBeGreaterThan(0);
    } finally {
      closeSync(fd);
    }
  });

  it('passes input on stdin (tc -batch -)', async () => {
    const ns = await createNetns('h4x');
    await ns.exec(['ip', 'link', 'set', 'lo', 'up']);
    const r = await withFd(ns, (fd) => runTool(fd, ['tc', '-j', '-batch', '-'], { ...opts, input: 'qdisc show\n' }));
    expect(r.error).toBeNull();
    expect(r.stdout).toContain('"kind":"noqueue"');
  });

  it('a non-zero exit is reason exit with stderr; a tool outside the allow-list is refused without a spawn', async () => {
    const ns = await createNetns('h4x');
    const r = await withFd(ns, (fd) => runTool(fd, ['ipset', 'list', 'no-such-set-h4x'], opts));
    expect(r.error?.reason).toBe('exit');
    expect(r.error?.stderr).toMatch(/does not exist/);
    const refused = await withFd(ns, (fd) => runTool(fd, ['sh', '-c', 'id'], opts));
    expect(refused.error?.reason).toBe('spawn');
    expect(refused.error?.message).toMatch(/not a tool the reader runs/);
  });

  it('the timeout kills the tool: reason timeout, no process left in the namespace', async () => {
    const ns = await createNetns('h4x');
    // `ip monitor` never exits on its own.
    const t0 = performance.now();
    const r = await withFd(ns, (fd) => runTool(fd, ['ip', 'monitor'], { ...opts, timeoutMs: 300 }));
    expect(r.error?.reason).toBe('timeout');
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(await pidsInNetns(ns.path)).toEqual([]);
  });

  it('the output cap stops the tool where it is read: reason output_limit, truncated, stdout holds its start', async () => {
    const ns = await createNetns('h4x');
    await ns.exec(['ipset', 'create', 'h4cap', 'hash:ip', 'maxelem', '100000']);
    await ns.exec(['ipset', 'restore'], { input: Array.from({ length: 5000 }, (_, i) => `add h4cap 10.1.${(i >> 8) & 255}.${i & 255}`).join('\n') + '\n' });
    const r = await withFd(ns, (fd) => runTool(fd, ['ipset', 'save'], { ...opts, maxOutputBytes: 4096 }));
    expect(r.error?.reason).toBe('output_limit');
    expect(r.truncated).toBe(true);
    expect(r.stdout.startsWith('create h4cap hash:ip')).toBe(true);
    expect(r.stdout.length).toBeLessThanOrEqual(4096);
    expect(await pidsInNetns(ns.path)).toEqual([]);
  });

  it('an abort kills the tool; a missing nsenter is reason spawn; a spent budget runs nothing', async () => {
    const ns = await createNetns('h4x');
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const r = await withFd(ns, (fd) => runTool(fd, ['ip', 'monitor'], { ...opts, signal: ac.signal }));
    expect(r.error?.reason).toBe('timeout');
    expect(await pidsInNetns(ns.path)).toEqual([]);
    const missing = await withFd(ns, (fd) => runTool(fd, ['ip', 'link'], { ...opts, nsenterPath: '/nonexistent/nsenter' }));
    expect(missing.error?.reason).toBe('spawn');
    const spent = await withFd(ns, (fd) => runTool(fd, ['ip', 'link'], { ...opts, timeoutMs: 0 }));
    expect(spent.error?.message).toMatch(/budget is spent/);
  });
});
