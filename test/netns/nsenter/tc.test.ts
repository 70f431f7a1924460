import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ParseError } from '../../../agent/errors.js';
import {
  parseTcBatch,
  parseTcClasses,
  parseTcFilters,
  parseTcJson,
  parseTcQdiscs,
  parseTcRate,
  parseTcSize,
  parseTcTime,
  splitTcBatchOutput,
  tcBatchCommands,
} from '../../../agent/netns/nsenter/tc.js';
import type { Qdisc } from '../../../agent/netns/state.js';
import { describeIntegration } from '../../helpers/env.js';
import { createNetns, destroyAll } from '../../helpers/netns.js';

const fixture = (name: string): string => readFileSync(new URL(`../../fixtures/tc/${name}`, import.meta.url), 'utf8');
const find = (qs: Qdisc[], dev: string, handle: string): Qdisc => {
  const q = qs.find((x) => x.interface === dev && x.handle === handle);
  if (q === undefined) throw new Error(`no qdisc ${dev} ${handle}`);
  return q;
};

describe('units', () => {
  it('sizes, rates and times in base units', () => {
    expect([parseTcSize('1600b/1'), parseTcSize('32Kb/1'), parseTcSize('10Kb'), parseTcSize('2Mb'), parseTcSize(32768), parseTcSize('x')]).toEqual([
      1600, 32768, 10240, 2097152, 32768, undefined,
    ]);
    expect([parseTcRate('10Mbit'), parseTcRate('1Kibit'), parseTcRate('100kbps'), parseTcRate(125000), parseTcRate('fast')]).toEqual([
      1250000, 128, 100000, 125000, undefined,
    ]);
    expect([parseTcTime('50ms', 1), parseTcTime('1.5s', 1), parseTcTime('100us', 1), parseTcTime(50000, 1e6), parseTcTime(0.1, 1)]).toEqual([
      0.05, 1.5, 0.0001, 0.05, 0.1,
    ]);
  });

  it('JSON reader keeps keys tc prints twice as arrays, in order', () => {
    const r = parseTcJson('{"mpu":0,"a":[1,2],"match":{"v":1},"match":{"v":2},"match":{"v":3}}');
    expect(r.error).toBeNull();
    expect(JSON.parse(JSON.stringify(r.value))).toEqual({ mpu: 0, a: [1, 2], match: [{ v: 1 }, { v: 2 }, { v: 3 }] });
    expect(parseTcJson('{"a":').error).toBe('unexpected end at offset 5');
  });
});

describe('parseTcQdiscs on real captures (iproute2 6.1)', () => {
  it('tbf root as Chaos Mesh sets it without filters: rate, burst, latency, derived limit, stats', () => {
    const { qdiscs, errors } = parseTcQdiscs(fixture('tbf-root-qdisc.json'));
    expect(errors).toEqual([]);
    expect(qdiscs.map((q) => [q.interface, q.kind, q.handle, q.parent, q.root])).toEqual([
      ['lo', 'noqueue', '0:', 'root', true],
      ['eth1', 'noqueue', '0:', 'root', true],
      ['eth0', 'tbf', '1:', 'root', true],
    ]);
    const tbf = find(qdiscs, 'eth0', '1:');
    expect(tbf.tbf).toEqual({ rateBytesPerSecond: 1000000, burstBytes: 10240, latencySeconds: 0.00976, limitBytes: 20000 });
    expect(tbf.stats).toEqual({ bytes: 0, packets: 0, drops: 0, overlimits: 0, requeues: 0, backlog: 0, qlen: 0 });
    expect(tbf.options).toEqual({ rate: 1000000, burst: '10Kb/1', mpu: 0, lat: 9760, linklayer: 'ethernet' });
  });

  it('htb root with a tbf leaf (peakrate set), ingress; -d and plain variants agree on values', () => {
    for (const f of ['htb-tbf-qdisc.json', 'htb-tbf-qdisc-nodetails.json']) {
      const { qdiscs, errors } = parseTcQdiscs(fixture(f));
      expect(errors).toEqual([]);
      const htb = find(qdiscs, 'eth0', '1:');
      expect(htb.htb).toEqual({ r2q: 10, defaultClass: '1:10', directQlen: 1000 });
      const tbf = find(qdiscs, 'eth0', '10:');
      expect(tbf.parent).toBe('1:10');
      expect(tbf.root).toBe(false);
      // 6.1 prints no peakrate in JSON and no limit without -raw; with a peakrate set, limit is not derived.
      expect(tbf.tbf).toEqual({ rateBytesPerSecond: 125000, burstBytes: 32768, mtuBytes: 1600, latencySeconds: 0.557056 });
      const ingress = find(qdiscs, 'eth1', 'ffff:');
      expect([ingress.kind, ingress.parent, ingress.root]).toEqual(['ingress', 'ingress', false]);
    }
    // tbf prints "mpu" twice with -d: both values kept.
    expect(find(parseTcQdiscs(fixture('htb-tbf-qdisc.json')).qdiscs, 'eth0', '10:').options.mpu).toEqual([0, 0]);
  });
});

describe('parseTcQdiscs on fixtures written from iproute2 print code (kernel lacks netem/prio/sfq)', () => {
  it('netem: every field in base units (seconds, ratios 0..1, bytes/s)', () => {
    const { qdiscs, errors } = parseTcQdiscs(fixture('netem-tbf-chain-qdisc.json'));
    expect(errors).toEqual([]);
    const netem = find(qdiscs, 'eth0', '1:');
    expect(netem.netem).toEqual({
      limit: 1000,
      delaySeconds: 0.1,
      jitterSeconds: 0.01,
      delayCorrelation: 0.25,
      loss: 0.05,
      lossCorrelation: 0.1,
      duplicate: 0.01,
      duplicateCorrelation: 0.02,
      reorder: 0.2,
      reorderCorrelation: 0.5,
      corrupt: 0.005,
      corruptCorrelation: 0.03,
      rateBytesPerSecond: 125000,
      ratePacketOverhead: 0,
      rateCellSize: 0,
      rateCellOverhead: 0,
      ecn: false,
      gap: 5,
    });
    expect(netem.stats).toEqual({ bytes: 123456, packets: 789, drops: 12, overlimits: 0, requeues: 1, backlog: 1514, qlen: 1 });
    const tbf = find(qdiscs, 'eth0', '2:');
    expect([tbf.parent, tbf.tbf?.rateBytesPerSecond, tbf.tbf?.limitBytes]).toEqual(['1:', 1000000, 20000]);
  });

  it('netem loss models, slot and ecn: typed, no random loss invented', () => {
    const { qdiscs, errors } = parseTcQdiscs(fixture('netem-loss-models-qdisc.json'));
    expect(errors).toEqual([]);
    const a = find(qdiscs, 'eth0', '1:');
    expect(a.netem).toEqual({
      limit: 1000,
      ecn: true,
      slot: { minDelaySeconds: 0.001, maxDelaySeconds: 0.005, packets: 0, bytes: 0 },
      lossState: { p13: 0.01, p31: 0.99, p32: 0, p23: 1, p14: 0 },
    });
    expect(a.options['loss-state']).toEqual({ p13: 0.01, p31: 0.99, p32: 0, p23: 1, p14: 0 });
    const b = find(qdiscs, 'eth1', '1:');
    expect(b.netem).toEqual({
      limit: 5000,
      delaySeconds: 0.2,
      jitterSeconds: 0,
      delayCorrelation: 0,
      ecn: false,
      lossGemodel: { p: 0.02, r: 0.98, oneMinusH: 1, oneMinusK: 0 },
    });
  });

  it('Chaos Mesh filtered layout: prio root, three sfq bands, netem and tbf on bands 4 and 5', () => {
    const { qdiscs, errors } = parseTcQdiscs(fixture('prio-sfq-netem-filtered-qdisc.json'));
    expect(errors).toEqual([]);
    const eth0 = qdiscs.filter((q) => q.interface === 'eth0');
    expect(eth0.map((q) => [q.kind, q.handle, q.parent])).toEqual([
      ['prio', '1:', 'root'],
      ['sfq', '2:', '1:1'],
      ['sfq', '3:', '1:2'],
      ['sfq', '4:', '1:3'],
      ['netem', '5:', '1:4'],
      ['tbf', '6:', '1:5'],
    ]);
    expect(find(qdiscs, 'eth0', '1:').prio).toEqual({ bands: 5, priomap: [1, 2, 2, 2, 1, 2, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1] });
    expect(find(qdiscs, 'eth0', '2:').options).toEqual({ limit: 127, quantum: 1514, depth: 127, flows: 128, divisor: 1024 });
    expect(find(qdiscs, 'eth0', '5:').netem).toEqual({ limit: 1000, delaySeconds: 0.3, jitterSeconds: 0.05, delayCorrelation: 0.5, ecn: false });
    expect(find(qdiscs, 'eth0', '5:').stats).toMatchObject({ drops: 4, backlog: 3028, qlen: 2 });
    expect(find(qdiscs, 'eth0', '6:').tbf).toEqual({ rateBytesPerSecond: 12500, burstBytes: 1600, latencySeconds: 3.872, limitBytes: 50000 });
  });
});

describe('parseTcClasses and parseTcFilters', () => {
  it('reads 6.1 text classes (htb) with rates in bytes/s and stats', () => {
    const { classes, errors } = parseTcClasses(fixture('htb-class-eth0.txt'), 'eth0');
    expect(errors).toEqual([]);
    expect(classes.map((c) => [c.interface, c.kind, c.handle, c.parent, c.rateBytesPerSecond, c.ceilBytesPerSecond])).toEqual([
      ['eth0', 'htb', '1:10', '1:1', 1250000, 6250000],
      ['eth0', 'htb', '1:1', 'root', 12500000, 12500000],
      ['eth0', 'tbf', '10:1', '10:', undefined, undefined],
    ]);
    expect(classes[0]!.options).toMatchObject({ leaf: '10:', prio: '0', burst: '15Kb/1', mpu: ['0b', '0b'], level: '0' });
    expect(classes[0]!.stats).toEqual({ bytes: 0, packets: 0, drops: 0, overlimits: 0, requeues: 0, backlog: 0, qlen: 0 });
  });

  it('reads prio classes of the filtered layout (text) with their stats', () => {
    const { classes, errors } = parseTcClasses(fixture('prio-class-eth0.txt'), 'eth0');
    expect(errors).toEqual([]);
    expect(classes.map((c) => [c.handle, c.parent, c.options.leaf])).toEqual([
      ['1:1', '1:', '2:'],
      ['1:2', '1:', '3:'],
      ['1:3', '1:', '4:'],
      ['1:4', '1:', '5:'],
      ['1:5', '1:', '6:'],
    ]);
    expect(classes[3]!.stats).toEqual({ bytes: 50000, packets: 380, drops: 4, overlimits: 0, requeues: 0, backlog: 3028, qlen: 2 });
  });

  it('reads JSON classes (newer iproute2, tc_class.c print_class)', () => {
    const json = '[{"class":"htb","handle":"1:10","parent":"1:1","leaf":"10:","prio":0,"rate":1250000,"ceil":6250000,"burst":15360,"cburst":1600,"level":0,"stats":{"bytes":5,"packets":1,"drops":0,"overlimits":0,"requeues":0,"backlog":0,"qlen":0}}]';
    const { classes, errors } = parseTcClasses(json, 'eth0');
    expect(errors).toEqual([]);
    expect(classes).toEqual([
      {
        interface: 'eth0',
        kind: 'htb',
        handle: '1:10',
        parent: '1:1',
        options: { prio: 0, rate: 1250000, ceil: 6250000, burst: 15360, cburst: 1600, level: 0 },
        rateBytesPerSecond: 1250000,
        ceilBytesPerSecond: 6250000,
        stats: { bytes: 5, packets: 1, drops: 0, overlimits: 0, requeues: 0, backlog: 0, qlen: 0 },
      },
    ]);
  });

  it('reads u32 and bpf filters (real capture) with their flowids; header objects skipped', () => {
    const { filters, errors } = parseTcFilters(fixture('htb-filter-eth0.json'), 'eth0');
    expect(errors).toEqual([]);
    expect(filters.map((f) => [f.interface, f.kind, f.parent, f.protocol, f.pref, f.handle, f.flowid])).toEqual([
      ['eth0', 'u32', '1:', 'ip', 1, '800:', null],
      ['eth0', 'u32', '1:', 'ip', 1, '800::800', '1:10'],
      ['eth0', 'bpf', '1:', 'ip', 2, '0x1', '1:1'],
    ]);
    // u32 prints one "match" key per selector: both kept.
    expect(filters[1]!.options.match).toEqual([
      { value: 'af40200', mask: 'ffffff00', offmask: '', off: 16 },
      { value: '50', mask: 'ffff', offmask: '', off: 20 },
    ]);
    expect(filters[2]!.options.bytecode).toEqual({ length: 1, insns: [{ code: 6, jt: 0, jf: 0, k: 4294967295 }] });
  });
});

describe('bad tc output', () => {
  it('malformed JSON: one ParseError at line 0, nothing else, no throw', () => {
    for (const bad of ['[{"kind":"tbf",', '{"kind":"tbf"}', 'Error: Cannot find device "eth9"', '[]x']) {
      const r = parseTcQdiscs(bad);
      expect(r.qdiscs).toEqual([]);
      expect(r.errors).toHaveLength(1);
      expect(r.errors[0]).toBeInstanceOf(ParseError);
    }
    expect(parseTcQdiscs('{"kind":"tbf"}').errors[0]!.line).toBe(0);
    expect(parseTcQdiscs('').errors).toEqual([]);
    // Scalars are reported one by one, and the missing `]`, in line order.
    expect(parseTcQdiscs('[1,2').errors.map((e) => [e.line, e.message])).toEqual([
      [1, 'tc qdisc show: line 1: element is not an object'],
      [2, 'tc qdisc show: line 2: array never closes (truncated output?)'],
      [2, 'tc qdisc show: line 2: element is not an object'],
    ]);
  });

  it('one bad object keeps the others; the error carries its 1-based position', () => {
    const json = '[{"kind":"htb","handle":"1:","dev":"eth0","root":true},{"kind": nan},{"handle":"3:"},{"kind":"tbf","handle":"2:","dev":"eth0","parent":"1:1"}]';
    const r = parseTcQdiscs(json);
    expect(r.qdiscs.map((q) => q.handle)).toEqual(['1:', '2:']);
    expect(r.errors.map((e) => e.line)).toEqual([2, 3]);
  });

  it('a truncated array keeps the complete objects before the cut', () => {
    const full = fixture('prio-sfq-netem-filtered-qdisc.json');
    const cut = full.slice(0, full.indexOf('{"kind":"netem"') + 30);
    const r = parseTcQdiscs(cut);
    expect(r.qdiscs.map((q) => q.kind)).toEqual(['noqueue', 'prio', 'sfq', 'sfq', 'sfq']);
    expect(r.errors.map((e) => e.line)).toEqual([6]);
  });
});

describe('parseTcBatch', () => {
  const { commands, input, rejected } = tcBatchCommands(['eth0', 'eth1', 'lo', 'bad name', '../x']);

  it('builds the batch input from valid interface names only', () => {
    expect(rejected).toEqual(['bad name', '../x']);
    expect(input).toBe('qdisc show\nclass show dev eth0\nfilter show dev eth0\nclass show dev eth1\nfilter show dev eth1\nclass show dev lo\nfilter show dev lo\n');
  });

  it('splits the real output of one tc -batch process (JSON arrays + 6.1 text classes)', () => {
    const segs = splitTcBatchOutput(fixture('batch-htb.txt'));
    expect(segs.map((s) => [s.kind, s.line])).toEqual([
      ['json', 1],
      ['text', 2],
      ['json', 16],
      ['json', 17],
      ['json', 18],
    ]);
  });

  it('maps every document to its command', () => {
    const d = parseTcBatch(fixture('batch-htb.txt'), commands);
    expect(d.errors).toEqual([]);
    expect(d.qdiscs.map((q) => `${q.interface} ${q.kind} ${q.handle}`)).toEqual(['lo noqueue 0:', 'eth1 noqueue 0:', 'eth1 ingress ffff:', 'eth0 htb 1:', 'eth0 tbf 10:']);
    expect(d.classes.map((c) => `${c.interface} ${c.handle}`)).toEqual(['eth0 1:10', 'eth0 1:1', 'eth0 10:1']);
    expect(d.filters.map((f) => `${f.interface} ${f.kind} ${f.flowid}`)).toEqual(['eth0 u32 null', 'eth0 u32 1:10', 'eth0 bpf 1:1']);
  });

  it('newer iproute2 (one JSON document per command, classes included) maps the same way', () => {
    const out = '[{"kind":"htb","handle":"1:","dev":"eth0","root":true,"options":{}}]\n[{"class":"htb","handle":"1:1","root":true,"rate":125000}]\n[]\n[]\n[]\n';
    const d = parseTcBatch(out, tcBatchCommands(['eth0', 'eth1']).commands);
    expect(d.errors).toEqual([]);
    expect(d.classes.map((c) => [c.interface, c.handle, c.rateBytesPerSecond])).toEqual([['eth0', '1:1', 125000]]);
  });

  it('a batch tc stopped early keeps what it printed and names the commands without output', () => {
    const full = fixture('batch-htb.txt');
    const cut = full.slice(0, full.indexOf('\n[{"parent"') + 1);
    const d = parseTcBatch(cut, commands);
    expect(d.qdiscs).toHaveLength(5);
    expect(d.classes).toHaveLength(3);
    expect(d.errors.map((e) => e.text)).toEqual(['filter show dev eth0', 'filter show dev eth1', 'filter show dev lo']);
  });
});

describe('tc parser properties', () => {
  it('never throw on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        for (const r of [parseTcQdiscs(s).errors, parseTcClasses(s, 'eth0').errors, parseTcFilters(s, 'eth0').errors, parseTcBatch(s, tcBatchCommands(['eth0']).commands).errors]) {
          for (const e of r) expect(e).toBeInstanceOf(ParseError);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('never throw on arbitrary JSON, and read every well-formed qdisc object', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => {
        const s = JSON.stringify(v);
        const r = parseTcQdiscs(s);
        for (const e of r.errors) expect(e).toBeInstanceOf(ParseError);
        if (Array.isArray(v)) {
          const good = v.filter((x) => typeof x === 'object' && x !== null && !Array.isArray(x) && typeof (x as Record<string, unknown>).kind === 'string');
          expect(r.qdiscs).toHaveLength(good.length);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('one corrupted object anywhere loses only that object', () => {
    const objs = JSON.parse(fixture('prio-sfq-netem-filtered-qdisc.json')) as unknown[];
    const texts = objs.map((o) => JSON.stringify(o));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: texts.length - 1 }), fc.constantFrom('{"kind":}', '{"kind":"x",,}', '{nan}', '{"kind":"x" "y":1}'), (at, bad) => {
        const t = [...texts];
        t[at] = bad;
        const r = parseTcQdiscs(`[${t.join(',')}]`);
        expect(r.qdiscs).toHaveLength(texts.length - 1);
        expect(r.errors.map((e) => e.line)).toEqual([at + 1]);
      }),
      { numRuns: 100 },
    );
  });
});

describeIntegration('tc batch on a real namespace', { root: true, commands: ['ip', 'tc'] }, () => {
  afterAll(async () => {
    await destroyAll();
  });

  it('one tc -s -d -j -batch process reads qdiscs, classes and filters of every device', async () => {
    const ns = await createNetns('h3tc');
    await ns.addPodInterface({ addr: '10.99.3.2/24' });
    await ns.exec(['tc', 'qdisc', 'add', 'dev', 'eth0', 'root', 'handle', '1:', 'htb', 'default', '20']);
    await ns.exec(['tc', 'class', 'add', 'dev', 'eth0', 'parent', '1:', 'classid', '1:20', 'htb', 'rate', '8mbit', 'ceil', '16mbit']);
    await ns.exec(['tc', 'qdisc', 'add', 'dev', 'eth0', 'parent', '1:20', 'handle', '20:', 'tbf', 'rate', '4mbit', 'burst', '16kb', 'limit', '40000']);
    await ns.exec(['tc', 'filter', 'add', 'dev', 'eth0', 'parent', '1:', 'protocol', 'ip', 'prio', '1', 'u32', 'match', 'ip', 'dport', '443', '0xffff', 'flowid', '1:20']);
    const { commands, input } = tcBatchCommands(['lo', 'eth0']);
    const r = await ns.exec(['tc', '-s', '-d', '-j', '-batch', '-'], { input });
    const d = parseTcBatch(r.stdout, commands);
    expect(d.errors).toEqual([]);
    const tbf = find(d.qdiscs, 'eth0', '20:');
    expect(tbf.tbf).toEqual({ rateBytesPerSecond: 500000, burstBytes: 16384, latencySeconds: expect.any(Number), limitBytes: 40000 });
    expect(find(d.qdiscs, 'eth0', '1:').htb).toEqual({ r2q: 10, defaultClass: '1:20', directQlen: 1000 });
    expect(d.classes.filter((c) => c.kind === 'htb').map((c) => [c.interface, c.handle, c.rateBytesPerSecond, c.ceilBytesPerSecond])).toEqual([['eth0', '1:20', 1000000, 2000000]]);
    expect(d.filters.filter((f) => f.flowid !== null).map((f) => [f.interface, f.kind, f.flowid])).toEqual([['eth0', 'u32', '1:20']]);
    await ns.destroy();
  });
});
