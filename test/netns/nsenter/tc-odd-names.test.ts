/**
 * Interface names iproute2's batch reader mangles (`#` starts a comment, a word opening with a quote is a quoted
 * string), for real: what the installed tc does with them in batch text, and that the tools reader reads every
 * qdisc, class and filter of such interfaces exactly once under the right device (tc processes of their own, the
 * batch left to the plain names), the same tc state the netlink reader reads, with the output cap shared by those
 * processes. Names the tools cannot read (a control character, which `ip -j` writes raw; a byte that is no UTF-8)
 * leave links or tc not complete. Namespaces are real (`ip netns`), links are veth pairs (this kernel has no dummy
 * driver), every command an argument array.
 */
import { statSync } from 'node:fs';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ToolsReader } from '../../../agent/netns/nsenter/read-tools.js';
import { parseTcClasses, TC_BATCH_ARGV } from '../../../agent/netns/nsenter/tc.js';
import { createNetnsReader, type NetnsReader, type ReaderMode } from '../../../agent/netns/read.js';
import type { NetnsState, TcDump } from '../../../agent/netns/state.js';
import { describeIntegration } from '../../helpers/env.js';
import { createNetns, destroyAll, type TestNetns } from '../../helpers/netns.js';

const TC = ['tc', '-s', '-d', '-raw', '-j'];
/** eth0 (plain) and six odd names, as veth pairs; each gets htb 1:, class 1:(10+i), u32 filters on 1: and on its class. */
const PAIRS: [string, string][] = [
  ['eth0#x', "'eth0'"],
  ['d#1', "q'x"],
  ['"q', 'a\\b'],
];
const DEVS = ['eth0', ...PAIRS.flat()];

const readers = new Map<ReaderMode, NetnsReader>();
const reader = (mode: ReaderMode): NetnsReader => {
  let r = readers.get(mode);
  if (!r) {
    r = createNetnsReader({ reader: mode, netnsConcurrency: 1, nsenterPath: 'nsenter', commandTimeoutMs: 20_000, maxOutputBytes: 16 << 20, namespaceTimeoutMs: 60_000, procRoot: '/proc' });
    readers.set(mode, r);
  }
  return r;
};
const target = (ns: TestNetns) => ({ path: ns.path, inode: statSync(ns.path).ino, pid: ns.holderPid });
const status = (s: NetnsState, source: string) => s.sources?.find((x) => x.source === source);

/** tc without each reader's raw `options` and without statistics (traffic moves them). */
function tcShape(tc: TcDump): unknown {
  const strip = <T extends { options?: unknown; stats?: unknown }>(xs: T[]) => xs.map(({ options: _o, stats: _s, ...rest }) => rest);
  return { qdiscs: strip(tc.qdiscs), classes: strip(tc.classes), filters: strip(tc.filters), errors: tc.errors };
}

describeIntegration('tc of interfaces whose names batch text would mangle', { root: true, commands: ['nsenter', 'ip', 'tc'] }, () => {
  let ns: TestNetns;

  beforeAll(async () => {
    ns = await createNetns('tco');
    await ns.addPodInterface();
    await ns.startHolder();
    for (const [a, b] of PAIRS) await ns.exec(['ip', 'link', 'add', 'name', a, 'type', 'veth', 'peer', 'name', b]);
    for (const [i, dev] of DEVS.entries()) {
      const cls = `1:${10 + i}`;
      await ns.exec(['tc', 'qdisc', 'add', 'dev', dev, 'root', 'handle', '1:', 'htb']);
      await ns.exec(['tc', 'class', 'add', 'dev', dev, 'parent', '1:', 'classid', cls, 'htb', 'rate', `${i + 1}mbit`]);
      await ns.exec(['tc', 'filter', 'add', 'dev', dev, 'parent', '1:', 'protocol', 'ip', 'prio', '1', 'u32', 'match', 'ip', 'dport', String(8000 + i), '0xffff', 'flowid', cls]);
      await ns.exec(['tc', 'filter', 'add', 'dev', dev, 'parent', cls, 'protocol', 'ip', 'prio', '2', 'u32', 'match', 'ip', 'sport', String(9000 + i), '0xffff', 'flowid', cls]);
    }
    // A clsact hook on an odd name: `filter show dev q'x ingress` by argv.
    await ns.exec(['tc', 'qdisc', 'add', 'dev', "q'x", 'clsact']);
    await ns.exec(['tc', 'filter', 'add', 'dev', "q'x", 'ingress', 'protocol', 'ip', 'prio', '3', 'u32', 'match', 'ip', 'dst', '10.0.0.1/32', 'flowid', '1:13']);
  }, 60_000);

  afterAll(async () => {
    for (const r of readers.values()) await r.close();
    await destroyAll();
  });

  it('the installed tc reads another device, or stops the batch, for these names in batch text', async () => {
    const batch = (line: string) => ns.exec([...TC, '-batch', '-'], { input: `${line}\n`, reject: false });
    const handles = (out: string) => parseTcClasses(out, 'x').classes.map((c) => c.handle);
    const own = async (dev: string) => handles((await ns.exec([...TC, 'class', 'show', 'dev', dev])).stdout);
    expect(await own('eth0')).toEqual(['1:10']);
    expect(await own('eth0#x')).toEqual(['1:11']);
    expect(await own("'eth0'")).toEqual(['1:12']);
    // `#` cuts the line, a word opening with a quote is quoted: both read eth0, and say nothing (exit 0).
    for (const dev of ['eth0#x', "'eth0'"]) {
      const r = await batch(`class show dev ${dev}`);
      expect([r.exitCode, handles(r.stdout)]).toEqual([0, ['1:10']]);
    }
    const r = await batch('class show dev "q');
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('Unterminated quoted string');
  });

  it('the tools reader reads every qdisc, class and filter of every interface once, as the netlink reader does', async () => {
    const tools = await reader('nsenter').read(target(ns));
    const netlink = await reader('netlink').read(target(ns));
    expect(tools.reader).toBe('nsenter');
    expect(status(tools, 'tc')).toEqual({ source: 'tc', status: 'complete' });
    expect(tools.errors).toEqual([]);
    expect(tools.tc.errors).toEqual([]);
    const sorted = (xs: string[]) => [...xs].sort();
    expect(sorted(tools.tc.qdiscs.filter((q) => q.kind === 'htb').map((q) => `${q.interface} ${q.handle}`))).toEqual(sorted(DEVS.map((d) => `${d} 1:`)));
    expect(tools.tc.qdiscs.filter((q) => q.kind === 'clsact').map((q) => q.interface)).toEqual(["q'x"]);
    expect(sorted(tools.tc.classes.map((c) => `${c.interface} ${c.handle}`))).toEqual(sorted(DEVS.map((d, i) => `${d} 1:${10 + i}`)));
    const u32 = tools.tc.filters.filter((f) => f.flowid !== null).map((f) => `${f.interface} ${f.parent} ${f.pref} ${f.flowid}`);
    const want = [...DEVS.flatMap((d, i) => [`${d} 1: 1 1:${10 + i}`, `${d} 1:${10 + i} 2 1:${10 + i}`]), "q'x ingress 3 1:13"];
    expect(sorted(u32)).toEqual(sorted(want));
    // The netlink reader: the same tc state, in the same order, and the same statuses.
    expect(netlink.reader).toBe('netlink');
    expect(netlink.errors).toEqual([]);
    expect(tcShape(tools.tc)).toEqual(tcShape(netlink.tc));
    const statuses = (x: NetnsState) => Object.fromEntries((x.sources ?? []).map((s) => [s.source, s.status]));
    expect(statuses(tools)).toEqual(statuses(netlink));
  }, 60_000);
});

describeIntegration('the tc processes of odd names share the output cap; unreadable names leave tc not complete', { root: true, commands: ['nsenter', 'ip', 'tc'] }, () => {
  afterAll(async () => {
    for (const r of readers.values()) await r.close();
    await destroyAll();
  });

  const CLASSES = 40;

  it('two odd-named interfaces whose classes fit the cap one by one but not together: truncated, the first read whole', async () => {
    const ns = await createNetns('tcc');
    await ns.exec(['ip', 'link', 'add', 'name', 'big0', 'type', 'veth', 'peer', 'name', 'big1']);
    // Built under plain names (a setup batch), then renamed: links that are down can be renamed.
    const lines = ['big0', 'big1'].flatMap((d) => [`qdisc add dev ${d} root handle 1: htb`, ...Array.from({ length: CLASSES }, (_, i) => `class add dev ${d} parent 1: classid 1:${i + 1} htb rate ${i + 1}mbit`)]);
    await ns.exec(['tc', '-batch', '-'], { input: `${lines.join('\n')}\n` });
    await ns.exec(['ip', 'link', 'set', 'dev', 'big0', 'name', 'b#0']);
    await ns.exec(['ip', 'link', 'set', 'dev', 'big1', 'name', 'b#1']);
    // The order the reader asks them in: link order (a veth peer may come first).
    const order = (JSON.parse((await ns.exec(['ip', '-j', 'link', 'show'])).stdout) as { ifname: string }[]).map((l) => l.ifname);
    expect(order.filter((n) => n !== 'lo').sort()).toEqual(['b#0', 'b#1']);
    const [first, second] = order.filter((n) => n !== 'lo') as [string, string];
    // Lengths as the reader measures them (ns.exec strips the final newline).
    const len = async (argv: string[], input?: string) => (await ns.exec(argv, input === undefined ? undefined : { input })).stdout.length + 1;
    const lo = await len([...TC_BATCH_ARGV], 'qdisc show dev lo\nclass show dev lo\n');
    const [q1, c1, q2, c2] = [await len([...TC, 'qdisc', 'show', 'dev', first]), await len([...TC, 'class', 'show', 'dev', first]), await len([...TC, 'qdisc', 'show', 'dev', second]), await len([...TC, 'class', 'show', 'dev', second])];
    const cap = lo + q1 + c1 + q2 + Math.floor(c2 / 2);
    // Each run alone fits: only a cap shared by the phase's runs cuts the last one.
    expect(Math.max(lo, q1, c1, q2, c2)).toBeLessThan(cap);
    expect(await len(['ip', '-j', '-d', 'addr', 'show'])).toBeLessThan(cap);
    const r = new ToolsReader({ nsenterPath: 'nsenter', toolTimeoutMs: 20_000, maxSourceBytes: cap, budgetMs: 60_000 });
    const s = await r.read({ path: ns.path, inode: statSync(ns.path).ino, pid: null, procRoot: '/proc' });
    expect(status(s, 'links')?.status).toBe('complete');
    expect(status(s, 'tc')).toMatchObject({ status: 'truncated', reason: 'output_limit' });
    expect(s.tc.classes.filter((c) => c.interface === first).length).toBe(CLASSES);
    const cut = s.tc.classes.filter((c) => c.interface === second).length;
    expect(cut).toBeGreaterThan(0);
    expect(cut).toBeLessThan(CLASSES);
    expect(s.tc.qdiscs.map((q) => `${q.interface} ${q.kind}`)).toEqual([`${first} htb`, `${second} htb`]); // lo is down: no qdisc shown
    // The filter phase did not run after the cut: no filter asked.
    expect(s.tc.filters).toEqual([]);
  }, 60_000);

  it('a name with a control character: links and tc failed (ip -j writes it raw), while the netlink reader reads it', async () => {
    const ns = await createNetns('tcx');
    await ns.exec(['ip', 'link', 'add', 'name', 'c\u0001d', 'type', 'veth', 'peer', 'name', 'p1']);
    await ns.exec(['tc', 'qdisc', 'add', 'dev', 'c\u0001d', 'root', 'handle', '1:', 'htb']);
    const tools = await reader('nsenter').read(target(ns));
    expect(status(tools, 'links')).toMatchObject({ status: 'failed', reason: 'parse' });
    expect(status(tools, 'tc')).toMatchObject({ status: 'failed', reason: 'parse', message: expect.stringContaining('interface names unknown') });
    const netlink = await reader('netlink').read(target(ns));
    expect(status(netlink, 'tc')?.status).toBe('complete');
    expect(netlink.tc.qdiscs.filter((q) => q.kind === 'htb').map((q) => q.interface)).toEqual(['c\u0001d']);
  }, 60_000);

  it('a name that is no UTF-8: its tc process finds no such device, tc failed', async () => {
    const ns = await createNetns('tcf');
    // A byte no JavaScript string can carry in argv (0xff): ip's own batch reads the command from a fixed buffer.
    const line = Buffer.concat([Buffer.from('link add name f'), Buffer.from([0xff]), Buffer.from(' type veth peer name p2\n')]);
    await execa('ip', ['-n', ns.name, '-batch', '-'], { input: line, timeout: 10_000 });
    const tools = await reader('nsenter').read(target(ns));
    expect(tools.links?.map((l) => l.name)).toContain('f\ufffd');
    expect(status(tools, 'tc')).toMatchObject({ status: 'failed', reason: 'exit', message: expect.stringContaining('Cannot find device') });
  }, 60_000);
});
