import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeIpsetList } from '../../../../agent/netns/netlink/nfnl/ipset.js';
import { parseIpsetSave } from '../../../../agent/netns/nsenter/ipset.js';
import { comparableSets } from './compare.js';
import { fixtureMessages, fixtureText } from './fixtures.js';

describe('IPSET_CMD_LIST answers captured here equal ipset save of the same sets', () => {
  it('every set type this kernel has, with timeout / counters / comment / skbinfo and every member form', () => {
    const { dump, decodeErrors } = decodeIpsetList(fixtureMessages('ipset/corpus.list.nlmsg'));
    expect(decodeErrors).toEqual([]);
    expect(comparableSets(dump)).toEqual(parseIpsetSave(fixtureText('ipset/corpus.save.txt')));
    const byName = new Map(dump.sets.map((s) => [s.name, s]));
    expect(byName.get('cs-ip6')).toMatchObject({ family: 'inet6', timeout: 300, counters: true, comment: true, revision: 6 });
    expect(byName.get('cs-ip')!.references).toBe(1);
    expect(byName.get('cs-ipport')!.members.find((m) => m.proto === 'icmp')).toMatchObject({ value: '10.0.0.3,icmp:echo-request', port: null });
    expect(byName.get('cs-netif')!.members.map((m) => [m.iface, m.physdev, m.options])).toEqual(
      expect.arrayContaining([['veth1', true, ''], ['ve', false, 'wildcard'], ['eth0', false, '']]));
    expect(byName.get('cs-list')).toMatchObject({ type: 'list:set', size: 4, timeout: 100, family: null });
  });

  it('Chaos Mesh partition and TC-TABLES sets (hash:net, hash:net,port, list:set)', () => {
    const { dump } = decodeIpsetList(fixtureMessages('ipset/chaos-mesh.list.nlmsg'));
    expect(comparableSets(dump)).toEqual(parseIpsetSave(fixtureText('ipset/chaos-mesh.save.txt')));
    expect(dump.sets.map((s) => s.type)).toEqual(['hash:net', 'hash:net,port', 'hash:net', 'hash:net,port', 'list:set', 'list:set']);
  });
});

describe('the member bound', () => {
  it('keeps the first N members over all sets, every set still listed, and says it cut', () => {
    const msgs = fixtureMessages('ipset/corpus.list.nlmsg');
    const full = decodeIpsetList(msgs);
    const total = full.dump.sets.reduce((a, x) => a + x.members.length, 0);
    expect([full.membersCut, total > 3]).toEqual([false, true]);
    const cut = decodeIpsetList(msgs, 3);
    expect(cut.membersCut).toBe(true);
    expect(cut.dump.sets.map((x) => x.name)).toEqual(full.dump.sets.map((x) => x.name));
    expect(cut.dump.sets.flatMap((x) => x.members)).toEqual(full.dump.sets.flatMap((x) => x.members).slice(0, 3));
    expect(decodeIpsetList(msgs, total).membersCut).toBe(false);
  });
});

describe('decodeIpsetList is total', () => {
  const captured = fixtureMessages('ipset/corpus.list.nlmsg');
  it('arbitrary payloads and damaged captured messages give sets or decode errors, never a throw', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 4 }), (payloads) => {
      const r = decodeIpsetList(payloads.map((p) => ({ type: (6 << 8) | 7, flags: 2, seq: 0, pid: 0, payload: Buffer.from(p) })));
      expect(Array.isArray(r.dump.sets)).toBe(true);
    }), { numRuns: 1000 });
    fc.assert(fc.property(fc.constantFrom(...captured), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), (m, edits) => {
      const b = Buffer.from(m.payload);
      for (const [at, v] of edits) b[at % b.length] = v;
      const r = decodeIpsetList([{ ...m, payload: b }]);
      expect(r.dump.sets.length + r.decodeErrors.length).toBeGreaterThanOrEqual(0);
    }), { numRuns: 2000 });
  });
});
