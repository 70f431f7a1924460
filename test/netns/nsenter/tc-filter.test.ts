import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { filterParents } from '../../../agent/netns/model/filter-parents.js';
import type { Qdisc, TcClass } from '../../../agent/netns/model/tc.js';
import { parseIpAddresses, parseIpLinks, parseIpRoutes, parseIpRules } from '../../../agent/netns/nsenter/ip.js';
import { parseTcFilters, parseTcQdiscs, tcFilterCommands, tcTreeCommands } from '../../../agent/netns/nsenter/tc.js';
import { parseEmatchText } from '../../../agent/netns/nsenter/tc-ematch.js';

const q = (iface: string, kind: string, handle: string): Qdisc => ({ interface: iface, kind, handle, parent: 'root', root: true, options: {}, stats: null });
const c = (iface: string, kind: string, handle: string): TcClass => ({ interface: iface, kind, handle, parent: 'root', options: {}, stats: null });

describe('the two tc batches of a whole tree', () => {
  it('tree batch: per device qdiscs then classes; invalid names rejected', () => {
    const commands = [{ kind: 'qdisc', dev: 'lo' }, { kind: 'class', dev: 'lo' }, { kind: 'qdisc', dev: 'eth0' }, { kind: 'class', dev: 'eth0' }];
    expect(tcTreeCommands(['lo', 'eth0', 'bad name'])).toEqual({
      order: commands,
      commands,
      input: 'qdisc show dev lo\nclass show dev lo\nqdisc show dev eth0\nclass show dev eth0\n',
      single: [],
      rejected: ['bad name'],
    });
  });

  it('filter parents: qdiscs with a filter block, ingress / clsact hooks, classes with their own block only', () => {
    const parents = filterParents(
      [q('eth0', 'htb', '1:'), q('eth0', 'prio', '5:'), q('eth0', 'tbf', '7:'), q('lo', 'noqueue', '0:'), q('e1', 'clsact', 'ffff:'), q('e2', 'ingress', 'ffff:')],
      [c('eth0', 'htb', '1:1'), c('eth0', 'prio', '5:1'), c('eth0', 'tbf', '7:1')],
    );
    expect(parents.map((p) => `${p.interface} ${p.parent}`)).toEqual(['eth0 1:', 'eth0 5:', 'e1 ingress', 'e1 egress', 'e2 ingress', 'eth0 1:1']);
    const f = tcFilterCommands([...parents, { interface: 'eth0', parent: '1:1; rm -rf' }]);
    expect(f.input).toBe(
      'filter show dev eth0 parent 1:\nfilter show dev eth0 parent 5:\nfilter show dev e1 ingress\nfilter show dev e1 egress\nfilter show dev e2 ingress\nfilter show dev eth0 parent 1:1\n',
    );
    expect(f.rejected).toEqual(['eth0 1:1; rm -rf']);
    expect(f.commands[2]).toEqual({ kind: 'filter', dev: 'e1', parent: 'ingress' });
  });
});

describe('filters as tc prints them', () => {
  it('the parent the command named fills in what tc leaves out; -raw suffixes are dropped from u32 handles', () => {
    const json =
      '[{"protocol":"ip","pref":3,"kind":"u32","chain":0,"options":{"fh":"800::800[80000800]","order":2048,"key_ht":"800","bkt":"0","flowid":"1:1","link":"1:[00100000]",' +
      '"match":{"value":"a010000","mask":"ffff0000","offmask":"nexthdr+","off":12},"input_dev":"eth1","fwmark_value":"0x7","fwmark_mask":"0xff","fwmark_success":0}},' +
      '{"protocol":"all","pref":4,"kind":"bpf","chain":0,"egress":true,"options":{"handle":"0x1","tag":"abcdef0123456789"}}]';
    const { filters, errors } = parseTcFilters(json, 'e1', 'ingress');
    expect(errors).toEqual([]);
    expect(filters.map((f) => [f.interface, f.parent, f.handle, f.flowid])).toEqual([['e1', 'ingress', '800::800', '1:1'], ['e1', 'egress', '0x1', null]]);
    expect(filters[0]!.u32).toEqual({ hashTable: '800', bucket: '0', link: '1:', inputDevice: 'eth1', mark: { value: 7, mask: 0xff }, keys: [{ value: 0x0a010000, mask: 0xffff0000, offset: 12, nexthdr: true }] });
    expect(filters[1]!.bpf).toEqual({ name: null, directAction: false, id: null, tag: 'abcdef0123456789', bytecodeLength: null });
  });

  it('ematch text tc writes inside the JSON object: at its start, before a later key, or at its end', () => {
    const at = (opts: string) => `[{"protocol":"ip","pref":1,"kind":"basic","chain":0,"options":{${opts}}}]`;
    for (const opts of ['\n  ipset(s1 dst)\n', '"handle":"1"\n  ipset(s1 dst)\n,"flowid":"1:2"', '"handle":"1","flowid":"1:2"\n  NOT (\n    ipset(s1 dst)\n  ) \n']) {
      const { filters, errors } = parseTcFilters(at(opts), 'eth0', '1:');
      expect(errors).toEqual([]);
      expect(filters[0]!.matchSets).toEqual(['s1']);
    }
  });

  it('ematch text: containers, negation, quoted nbyte needles, unknown kinds, set names with dims', () => {
    expect(parseEmatchText('NOT ( cmp(u8 at 9 layer 1 eq 6) OR nbyte(61 29 "a)" at 0 layer 2) ) AND [unknown ematch 5] OR ipset(net_x src,dst)')).toEqual({
      text: 'NOT ( cmp(u8 at 9 layer 1 eq 6) OR nbyte(61 29 "a)" at 0 layer 2) ) AND [unknown ematch 5] OR ipset(net_x src,dst)',
      sets: ['net_x'],
      ematches: [
        { kind: 'container', text: '', negated: true, relation: 'and' },
        { kind: 'cmp', text: 'u8 at 9 layer 1 eq 6', negated: false, relation: 'or' },
        { kind: 'nbyte', text: '61 29 "a)" at 0 layer 2', negated: false, relation: 'end' },
        { kind: 'unknown 5', text: '', negated: false, relation: 'or' },
        { kind: 'ipset', text: 'net_x src,dst', negated: false, relation: 'end' },
      ],
    });
    expect(parseEmatchText('broken(').ematches).toEqual([]);
  });
});

describe('tbf from tc -raw output', () => {
  it('burst from the raw ticks (exact where the -d text rounds), limit as printed', () => {
    const raw = parseTcQdiscs('[{"kind":"tbf","handle":"1:","root":true,"options":{"rate":62500,"burst":"16Kb/1","mpu":0,"burst_raw":"3e8000","lat":377856,"limit":40000,"linklayer":"ethernet"}}]', 'eth0');
    expect(raw.qdiscs[0]!.tbf).toEqual({ rateBytesPerSecond: 62500, burstBytes: 16384, latencySeconds: 0.377856, limitBytes: 40000 });
    // 16383 bytes: sprint_size prints "16Kb" (within 16 bytes of 16384); only the ticks give the exact value.
    const exact = parseTcQdiscs('[{"kind":"tbf","handle":"1:","root":true,"options":{"rate":62500,"burst":"16Kb/1","burst_raw":"3e7f06","lat":377872,"limit":40000}}]', 'eth0');
    expect(exact.qdiscs[0]!.tbf!.burstBytes).toBe(16383);
  });
});

describe('ip parsers never throw', () => {
  it('arbitrary text and arbitrary JSON give results or ParseErrors', () => {
    const parsers = [parseIpLinks, parseIpAddresses, (t: string) => parseIpRoutes(t, 'ipv4'), (t: string) => parseIpRules(t, 'ipv6')];
    fc.assert(fc.property(fc.oneof(fc.string(), fc.json()), fc.constantFrom(...parsers), (text, p) => {
      p(text);
    }), { numRuns: 2000 });
    expect(parseIpLinks('[{"ifindex":1}]').errors.map((e) => e.message)).toEqual(['ip link show: line 1: no ifindex or ifname']);
  });
});
