import { describe, expect, it } from 'vitest';
import type { TcDump, TcFilter } from '../../../../agent/netns/model/tc.js';
import { RTM_NEWQDISC, RTM_NEWTCLASS, RTM_NEWTFILTER } from '../../../../agent/netns/netlink/rtnl/messages.js';
import { decodeClass } from '../../../../agent/netns/netlink/tc/class.js';
import { decodeFilter } from '../../../../agent/netns/netlink/tc/filter.js';
import { decodeQdisc } from '../../../../agent/netns/netlink/tc/qdisc.js';
import { parseTcBatch, type TcBatchCommand } from '../../../../agent/netns/nsenter/tc.js';
import { hexMessages, toolsJson, withoutOptions } from '../fixtures.js';

/** The captured namespaces' interface names by ifindex (from the fixtures' own tools output). */
function ifnames(tools: ToolsTc): (ix: number) => string {
  return (ix) => tools.ifindex[String(ix)] ?? `if${ix}`;
}

interface ToolsTc {
  batches: { commands: TcBatchCommand[]; input: string; output: string }[];
  ifindex: Record<string, string>;
}

function loadTools(name: string, ifindex: Record<string, string>): ToolsTc {
  return { ...toolsJson<Omit<ToolsTc, 'ifindex'>>(name), ifindex };
}

function toolsDump(t: ToolsTc): TcDump {
  const [tree, filters] = t.batches.map((b) => parseTcBatch(b.output, b.commands));
  return { qdiscs: tree!.qdiscs, classes: tree!.classes, filters: filters!.filters, errors: [...tree!.errors, ...filters!.errors] };
}

function netlinkDump(files: { qdisc: string; classes: string[]; filters: string[] }, ifname: (ix: number) => string): TcDump {
  const qdiscs = hexMessages(files.qdisc).filter((m) => m.type === RTM_NEWQDISC).map((m) => decodeQdisc(m.payload, ifname));
  const classes = files.classes.flatMap((f) => hexMessages(f).filter((m) => m.type === RTM_NEWTCLASS).map((m) => decodeClass(m.payload, ifname)));
  const filters = files.filters.flatMap((f) =>
    hexMessages(f)
      .filter((m) => m.type === RTM_NEWTFILTER)
      .map((m) => decodeFilter(m.payload, { ifname, setName: () => null }).filter)
      .filter((x): x is TcFilter => x !== null),
  );
  return { qdiscs, classes, filters, errors: [] };
}

/** Equal but for options and statistics (the captures are a few ms apart: an IPv6 packet may pass in between). */
function sameTree(a: TcDump, b: TcDump): void {
  const strip = <T extends { options?: unknown; stats?: unknown }>(xs: T[]) => withoutOptions(xs).map(({ stats: _s, ...r }) => r);
  expect(strip(a.qdiscs)).toEqual(strip(b.qdiscs));
  expect(strip(a.classes)).toEqual(strip(b.classes));
  expect(withoutOptions(a.filters)).toEqual(withoutOptions(b.filters));
}

// ifindexes of the captured namespaces (the tools outputs name the devices; the dumps carry indexes).
const TBF = { '1': 'lo', '756': 'eth0' };
const HTB = { '1': 'lo', '758': 'eth0' };
const HOOKS = { '1': 'lo', '2': 'e2', '3': 'e1' };

describe('tc decoders on captured bytes', () => {
  it('Chaos Mesh tbf root: rate, burst and latency computed as tc does from the psched ticks, exact limit', () => {
    const q = hexMessages('qdisc-tbf-root.hex').map((m) => decodeQdisc(m.payload, ifnames(loadTools('tc-tbf-root.tools.json', TBF))));
    expect(q.map((x) => [x.interface, x.kind, x.handle, x.parent, x.root])).toEqual([['lo', 'noqueue', '0:', 'root', true], ['eth0', 'tbf', '1:', 'root', true]]);
    expect(q[1]!.tbf).toEqual({ rateBytesPerSecond: 125000, burstBytes: 10240, latencySeconds: 0.07808, limitBytes: 20000 });
    expect(q[1]!.options).toMatchObject({ buffer: 1280000, limit: 20000 });
    expect(q[1]!.stats).toEqual({ bytes: 0, packets: 0, drops: 0, overlimits: 0, requeues: 0, backlog: 0, qlen: 0 });
  });

  it('htb layout: global options, classes with 64-bit-safe rates, pfifo limits, tbf leaf, empty stats nest -> null', () => {
    const ifname = ifnames(loadTools('tc-htb-layout.tools.json', HTB));
    const d = netlinkDump({ qdisc: 'qdisc-htb-layout.hex', classes: ['class-htb-layout.hex'], filters: [] }, ifname);
    expect(d.qdiscs.map((x) => [x.kind, x.handle, x.parent])).toEqual([
      ['noqueue', '0:', 'root'], ['htb', '1:', 'root'], ['pfifo', '2:', '1:1'], ['pfifo', '4:', '1:3'], ['tbf', '5:', '1:4'], ['pfifo', '3:', '1:2'],
    ]);
    expect(d.qdiscs[1]!.htb).toEqual({ defaultClass: '1:1', r2q: 10, directQlen: 1000 });
    expect(d.qdiscs[2]!.fifo).toEqual({ limit: 1000 });
    expect(d.qdiscs[4]!.tbf).toEqual({ rateBytesPerSecond: 62500, burstBytes: 16384, latencySeconds: 0.377856, limitBytes: 40000 });
    expect(d.classes.map((c) => [c.kind, c.handle, c.parent, c.rateBytesPerSecond, c.ceilBytesPerSecond, c.options.leaf])).toEqual([
      ['htb', '1:1', 'root', 1.25e9, 1.25e9, '2:'],
      ['htb', '1:2', 'root', 1.25e9, 1.25e9, '3:'],
      ['htb', '1:3', 'root', 1.25e9, 1.25e9, '4:'],
      ['htb', '1:4', 'root', 1.25e9, 1.25e9, '5:'],
      ['tbf', '5:1', '5:', undefined, undefined, undefined],
    ]);
    expect(d.classes[4]!.stats).toBeNull();
  });

  it('u32 filters: header message skipped, hash-table node, rule keys, flowid; a class block of its own', () => {
    const ifname = ifnames(loadTools('tc-htb-layout.tools.json', HTB));
    const d = netlinkDump({ qdisc: 'qdisc-htb-layout.hex', classes: [], filters: ['filter-u32-root.hex', 'filter-u32-class.hex'] }, ifname);
    expect(d.filters.map((f) => [f.parent, f.pref, f.protocol, f.handle, f.flowid, f.chain])).toEqual([
      ['1:', 1, 'ip', '800:', null, 0],
      ['1:', 1, 'ip', '800::800', '1:4', 0],
      ['1:1', 2, 'ip', '801:', null, 0],
      ['1:1', 2, 'ip', '801::800', '1:2', 0],
    ]);
    expect(d.filters[0]!.u32).toEqual({ divisor: 1, keys: [] });
    expect(d.filters[1]!.u32).toEqual({
      hashTable: '800',
      bucket: '0',
      keys: [
        { value: 0x0af40200, mask: 0xffffff00, offset: 16, nexthdr: false },
        { value: 80, mask: 0xffff, offset: 20, nexthdr: false },
      ],
    });
  });

  it('ingress and clsact: hooks named ingress / egress, classic BPF with its bytecode length', () => {
    const ifname = ifnames(loadTools('tc-ingress-clsact.tools.json', HOOKS));
    const d = netlinkDump({ qdisc: 'qdisc-ingress-clsact.hex', classes: [], filters: ['filter-ingress.hex', 'filter-clsact-ingress.hex', 'filter-clsact-egress.hex'] }, ifname);
    expect(d.qdiscs.map((q) => [q.interface, q.kind, q.handle, q.parent])).toEqual([['e2', 'ingress', 'ffff:', 'ingress'], ['e1', 'clsact', 'ffff:', 'ingress']]);
    expect(d.filters.map((f) => [f.interface, f.kind, f.parent, f.protocol, f.pref, f.handle, f.flowid])).toEqual([
      ['e2', 'u32', 'ffff:', 'ip', 5, '800:', null],
      ['e2', 'u32', 'ffff:', 'ip', 5, '800::800', '1:3'],
      ['e1', 'u32', 'ingress', 'ip', 3, '800:', null],
      ['e1', 'u32', 'ingress', 'ip', 3, '800::800', '1:1'],
      ['e1', 'bpf', 'egress', 'all', 4, '0x1', '1:1'],
    ]);
    expect(d.filters[4]!.bpf).toEqual({ name: null, directAction: false, id: null, tag: null, bytecodeLength: 1 });
  });
});

describe('frozen differential: tc dumps vs the tools output captured right after them', () => {
  it('tbf root (qdiscs: the capture has no class dump; tbf\'s inner class is what the tools list)', () => {
    const t = loadTools('tc-tbf-root.tools.json', TBF);
    const tools = toolsDump(t);
    expect(tools.errors).toEqual([]);
    sameTree(netlinkDump({ qdisc: 'qdisc-tbf-root.hex', classes: [], filters: [] }, ifnames(t)), { ...tools, classes: [] });
    expect(withoutOptions(tools.classes)).toEqual([{ interface: 'eth0', kind: 'tbf', handle: '1:1', parent: '1:', stats: null }]);
  });

  it('htb layout with u32 filters on the qdisc and on a class', () => {
    const t = loadTools('tc-htb-layout.tools.json', HTB);
    const tools = toolsDump(t);
    expect(tools.errors).toEqual([]);
    sameTree(netlinkDump({ qdisc: 'qdisc-htb-layout.hex', classes: ['class-htb-layout.hex'], filters: ['filter-u32-root.hex', 'filter-u32-class.hex'] }, ifnames(t)), tools);
  });

  it('ingress + clsact with u32 and bpf filters', () => {
    const t = loadTools('tc-ingress-clsact.tools.json', HOOKS);
    const tools = toolsDump(t);
    expect(tools.errors).toEqual([]);
    sameTree(netlinkDump({ qdisc: 'qdisc-ingress-clsact.hex', classes: [], filters: ['filter-ingress.hex', 'filter-clsact-ingress.hex', 'filter-clsact-egress.hex'] }, ifnames(t)), tools);
  });
});
