import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ParseError } from '../../../agent/errors.js';
import { emptyMemberFields } from '../../../agent/netns/model/ipset-types.js';
import { ipsetMemberCount, parseIpsetOptions, parseIpsetSave } from '../../../agent/netns/nsenter/ipset.js';
import { describeIntegration, uniqueName } from '../../helpers/env.js';
import { createNetns, destroyAll } from '../../helpers/netns.js';

const fixture = (name: string): string => readFileSync(new URL(`../../fixtures/ipset/${name}`, import.meta.url), 'utf8');

describe('parseIpsetSave on a real capture (Chaos Mesh partition sets)', () => {
  const d = parseIpsetSave(fixture('chaos-partition.txt'));

  it('reads every set with its type, options and members', () => {
    expect(d.errors).toEqual([]);
    expect(d.sets.map((s) => [s.name, s.type, s.members.length])).toEqual([
      ['net_web-p_1a2b3c4d5e6f7_tgt', 'hash:net', 4],
      ['netport_web-p_1a2b3c4d5e6f7_tgt', 'hash:net,port', 2],
      ['net_delay_0a1b2c3d4e5f60_netgt', 'hash:net', 1],
      ['v6_hosts', 'hash:ip', 1],
      ['set_web-p_1a2b3c4d5e6f7_tgt', 'list:set', 2],
    ]);
    expect(ipsetMemberCount(d)).toBe(10);
  });

  it('keeps members as written, with their options', () => {
    const byName = new Map(d.sets.map((s) => [s.name, s]));
    expect(byName.get('net_web-p_1a2b3c4d5e6f7_tgt')!.members.map((m) => m.value)).toEqual(['10.244.2.3', '10.244.2.2', '10.96.0.0/16', '10.244.2.1']);
    expect(byName.get('netport_web-p_1a2b3c4d5e6f7_tgt')!.members).toEqual([
      { ...emptyMemberFields(), value: '10.244.3.0/24,tcp:8080', options: '', ip: '10.244.3.0', cidr: 24, proto: 'tcp', port: 8080 },
      { ...emptyMemberFields(), value: '10.244.3.9,udp:53', options: '', ip: '10.244.3.9', proto: 'udp', port: 53 },
    ]);
    expect(byName.get('set_web-p_1a2b3c4d5e6f7_tgt')!.members.map((m) => [m.value, m.name])).toEqual([
      ['net_web-p_1a2b3c4d5e6f7_tgt', 'net_web-p_1a2b3c4d5e6f7_tgt'],
      ['netport_web-p_1a2b3c4d5e6f7_tgt', 'netport_web-p_1a2b3c4d5e6f7_tgt'],
    ]);
    expect(byName.get('v6_hosts')!.members).toEqual([
      { ...emptyMemberFields(), value: 'fd00::1', options: 'timeout 119 comment "db primary"', ip: 'fd00::1', timeout: 119, comment: 'db primary' },
    ]);
  });

  it('fills the typed set fields from the creation options', () => {
    const v6 = d.sets.find((s) => s.name === 'v6_hosts')!;
    expect([v6.family, v6.hashsize, v6.maxelem, v6.timeout, v6.size, v6.counters, v6.comment, v6.skbinfo]).toEqual(['inet6', 1024, 65536, 300, null, false, true, false]);
    const list = d.sets.find((s) => s.type === 'list:set')!;
    expect([list.family, list.size, list.hashsize, list.timeout]).toEqual([null, 8, null, null]);
  });

  it('parses creation options into key/value, flags as true', () => {
    const v6 = d.sets.find((s) => s.name === 'v6_hosts')!;
    expect(v6.optionsText).toBe('family inet6 hashsize 1024 maxelem 65536 timeout 300 comment bucketsize 12 initval 0x77bd9975');
    expect(v6.options).toEqual({ family: 'inet6', hashsize: '1024', maxelem: '65536', timeout: '300', comment: true, bucketsize: '12', initval: '0x77bd9975' });
    expect(d.sets.find((s) => s.type === 'list:set')!.options).toEqual({ size: '8' });
    expect(parseIpsetOptions(['counters', 'family', 'inet', 'skbinfo'])).toEqual({ counters: true, family: 'inet', skbinfo: true });
  });
});

describe('parseIpsetSave on hand-made text', () => {
  it('reports an add to an unknown set, unknown commands and a duplicate create at their lines, keeping the rest', () => {
    const text = [
      'add ghost 10.0.0.1', // 1
      'create a hash:ip family inet', // 2
      'add a 10.0.0.2', // 3
      'flush a', // 4
      'create a hash:net', // 5
      'create', // 6
      'add a', // 7
      'add a 10.0.0.3 comment "unterminated', // 8
      'add a 10.0.0.4', // 9
    ].join('\r\n');
    const d = parseIpsetSave(text);
    expect(d.errors.map((e) => e.line)).toEqual([1, 4, 5, 6, 7, 8]);
    for (const e of d.errors) expect(e).toBeInstanceOf(ParseError);
    expect(d.errors[0]!.message).toBe('ipset save: line 1: add to unknown set ghost');
    expect(d.sets).toHaveLength(1);
    expect(d.sets[0]!.type).toBe('hash:ip');
    expect(d.sets[0]!.members.map((m) => m.value)).toEqual(['10.0.0.2', '10.0.0.3', '10.0.0.4']);
  });

  it('empty output is no sets', () => {
    expect(parseIpsetSave('')).toEqual({ sets: [], errors: [] });
    expect(parseIpsetSave('\n\n')).toEqual({ sets: [], errors: [] });
  });
});

describe('parseIpsetSave properties', () => {
  it('never throws on arbitrary text; errors are ParseErrors on lines of the text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        const d = parseIpsetSave(s);
        const lines = s.split('\n').length;
        for (const e of d.errors) {
          expect(e).toBeInstanceOf(ParseError);
          expect(e.line).toBeGreaterThanOrEqual(1);
          expect(e.line).toBeLessThanOrEqual(lines);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('every well-formed member is kept, whatever garbage lines sit between them', () => {
    const member = fc.ipV4().map((ip) => ({ kind: 'add' as const, ip }));
    const junk = fc.string({ maxLength: 20 }).filter((s) => !/[\n\r]/.test(s) && !/^\s*(create|add|-N|-A)\b/.test(s)).map((s) => ({ kind: 'junk' as const, s }));
    fc.assert(
      fc.property(fc.array(fc.oneof(member, junk), { maxLength: 30 }), (items) => {
        const lines = ['create s hash:ip family inet', ...items.map((it) => (it.kind === 'add' ? `add s ${it.ip}` : it.s))];
        const d = parseIpsetSave(lines.join('\n'));
        const want = items.filter((it) => it.kind === 'add').map((it) => (it as { ip: string }).ip);
        expect(d.sets[0]!.members.map((m) => m.value)).toEqual(want);
        const junkLines = items.map((it, i) => (it.kind === 'junk' && it.s.trim().length > 0 && !it.s.trim().startsWith('#') ? i + 2 : -1)).filter((n) => n > 0);
        expect(d.errors.map((e) => e.line)).toEqual(junkLines);
      }),
      { numRuns: 200 },
    );
  });
});

describeIntegration('parseIpsetSave against real ipset save', { root: true, commands: ['ip', 'ipset'] }, () => {
  afterAll(async () => {
    await destroyAll();
  });

  it('reads sets created in a throwaway namespace', async () => {
    const ns = await createNetns('h3ips');
    const name = uniqueName('h3s');
    try {
      await ns.exec(['ipset', 'create', name, 'hash:net,port', 'family', 'inet', 'counters']);
      await ns.exec(['ipset', 'add', name, '10.1.0.0/16,tcp:443', 'packets', '5', 'bytes', '300']);
      const d = parseIpsetSave((await ns.exec(['ipset', 'save'])).stdout);
      expect(d.errors).toEqual([]);
      const s = d.sets.find((x) => x.name === name)!;
      expect(s.type).toBe('hash:net,port');
      expect(s.options).toMatchObject({ family: 'inet', counters: true });
      expect(s.members).toEqual([
        { ...emptyMemberFields(), value: '10.1.0.0/16,tcp:443', options: 'packets 5 bytes 300', ip: '10.1.0.0', cidr: 16, proto: 'tcp', port: 443, packets: 5, bytes: 300 },
      ]);
    } finally {
      await ns.exec(['ipset', 'destroy', name], { reject: false });
      await ns.destroy();
    }
  });
});
