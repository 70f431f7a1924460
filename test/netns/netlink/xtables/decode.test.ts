import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../../../agent/errors.js';
import type { IpFamily } from '../../../../agent/netns/model/iptables.js';
import { decodeEntries, decodeGetInfo } from '../../../../agent/netns/netlink/xtables/entries.js';
import { chainLayout } from '../../../../agent/netns/netlink/xtables/layout.js';
import { decodeTable, readLegacy } from '../../../../agent/netns/netlink/xtables/read.js';
import { ctxOf, FIXTURES, fixtureSocket } from './fixtures.js';
import { parseIptablesSave } from '../../../../agent/netns/nsenter/iptables.js';

const limits = (maxBytes = 1 << 24) => ({ maxBytes, deadline: performance.now() + 5000 });

describe('legacy fixtures (getsockopt answers captured on this machine)', () => {
  it('there are fixtures for both families', () => {
    expect(FIXTURES.map(([, f]) => f.family)).toContain('ipv4');
    expect(FIXTURES.map(([, f]) => f.family)).toContain('ipv6');
  });

  for (const [file, f] of FIXTURES) {
    it(`${file}: decodes to exactly what iptables-legacy-save printed`, () => {
      const expected = parseIptablesSave(f.save, 'legacy', f.family);
      const r = readLegacy(fixtureSocket(f), f.family, f.tables.map((t) => t.name), ctxOf(f), limits());
      expect(r.source).toEqual({ source: `iptables-legacy-${f.family}`, status: 'complete' });
      expect(r.opaqueRules).toBe(0);
      expect(r.dump).toEqual(expected);
    });
  }

  it('GET_INFO decodes the hook entry points and sizes', () => {
    const f = FIXTURES.find(([n]) => n === 'chaos-partition-v4.json')![1];
    const filter = f.tables.find((t) => t.name === 'filter')!;
    const info = decodeGetInfo(Buffer.from(filter.info, 'hex'));
    expect(info.name).toBe('filter');
    expect(info.validHooks).toBe(0b01110);
    expect(info.size).toBe(Buffer.from(filter.entries, 'hex').length);
    expect(info.numEntries).toBe(decodeEntries(Buffer.from(filter.entries, 'hex'), 'ipv4').length);
  });
});

describe('readLegacy bounds and kernel answers', () => {
  const [, f] = FIXTURES.find(([n]) => n === 'kube-proxy-v4.json')!;
  const names = f.tables.map((t) => t.name);
  const sizes = f.tables.map((t) => 40 + t.entries.length / 2);

  it('no listed table: no dump, complete', () => {
    expect(readLegacy(fixtureSocket(f), 'ipv4', [], ctxOf(f), limits())).toEqual({ dump: null, source: { source: 'iptables-legacy-ipv4', status: 'complete' }, opaqueRules: 0, notes: [] });
  });

  it('a table past the byte cap is not fetched: the tables before it are kept, the source is truncated', () => {
    const socket = fixtureSocket(f);
    const r = readLegacy(socket, 'ipv4', names, ctxOf(f), limits(sizes[0]! + 10));
    expect(r.source).toMatchObject({ status: 'truncated', reason: 'output_limit' });
    expect(r.dump!.tables.map((t) => t.name)).toEqual([names[0]]);
    expect(socket.asked).toEqual([`info ${names[0]}`, `entries ${names[0]}`, `info ${names[1]}`]);
  });

  it('a passed deadline stops before the next table', () => {
    const r = readLegacy(fixtureSocket(f), 'ipv4', names, ctxOf(f), { maxBytes: 1 << 24, deadline: performance.now() - 1 });
    expect(r.source).toMatchObject({ status: 'truncated', reason: 'timeout' });
    expect(r.dump!.tables).toEqual([]);
  });

  it('EAGAIN (the table changed between GET_INFO and GET_ENTRIES) is retried; three in a row fail the source', () => {
    const once = readLegacy(fixtureSocket(f, { onEntries: (_t, n) => (n === 1 ? 11 : null) }), 'ipv4', names, ctxOf(f), limits());
    expect(once.source.status).toBe('complete');
    const always = readLegacy(fixtureSocket(f, { onEntries: () => 11 }), 'ipv4', names, ctxOf(f), limits());
    expect(always.source).toMatchObject({ status: 'failed', reason: 'spawn' });
  });

  it('a listed table that is gone is a note, not a failure; EPERM fails the source', () => {
    const gone = readLegacy(fixtureSocket(f), 'ipv4', ['raw', ...names], ctxOf(f), limits());
    expect(gone.source.status).toBe('complete');
    expect(gone.notes).toEqual(['legacy ipv4 table raw was listed but is gone']);
    const eperm = readLegacy(fixtureSocket(f, { onEntries: () => 1 }), 'ipv4', names, ctxOf(f), limits());
    expect(eperm.source).toMatchObject({ status: 'failed', message: expect.stringContaining(`table ${names[0]}`) });
  });

  it('a set index with no set makes that rule opaque, keeping counters and target', () => {
    const [, p] = FIXTURES.find(([n]) => n === 'chaos-partition-v4.json')!;
    const r = readLegacy(fixtureSocket(p), 'ipv4', p.tables.map((t) => t.name), { setName: () => null }, limits());
    const rules = r.dump!.tables.flatMap((t) => t.chains.flatMap((c) => c.rules));
    const opaque = rules.filter((x) => x.opaque !== undefined);
    expect(r.opaqueRules).toBe(opaque.length);
    expect(opaque.length).toBeGreaterThan(0);
    for (const x of opaque) {
      expect(x.target).toBe('DROP');
      expect(x.modules).toEqual(['set']);
      expect(x.text).toMatch(/-m set -j DROP$/);
      expect(x.opaque![0]).toMatch(/no ipset has index/);
    }
  });
});

describe('decoder totality on bytes', () => {
  const tables = FIXTURES.flatMap(([, f]) => f.tables.map((t) => ({ f, t })));

  it('arbitrary bytes: decodeTable returns or throws a DecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.constantFrom<IpFamily>('ipv4', 'ipv6'), (bytes, family) => {
        const info = { name: 'x', validHooks: 0x1f, hookEntry: [0, 0, 0, 0, 0], underflow: [0, 0, 0, 0, 0], numEntries: 0, size: bytes.length };
        try {
          decodeTable('x', info, Buffer.from(bytes), family, { setName: () => 'S' });
        } catch (err) {
          expect(err).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('captured tables with bytes flipped or cut: a dump or a DecodeError, never another throw or a hang', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...tables),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        fc.option(fc.nat(), { nil: undefined }),
        ({ f, t }, flips, cut) => {
          const entries = Buffer.from(t.entries, 'hex');
          for (const [at, v] of flips) entries[at % entries.length] = v;
          const blob = cut === undefined ? entries : entries.subarray(0, cut % (entries.length + 1));
          const info = decodeGetInfo(Buffer.from(t.info, 'hex'));
          try {
            const { table } = decodeTable(t.name, info, blob, f.family, ctxOf(f));
            expect(table.name).toBe(t.name);
          } catch (err) {
            expect(err).toBeInstanceOf(DecodeError);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('chain layout corner cases (captured blobs, edited field by field)', () => {
  const [, edges] = FIXTURES.find(([n]) => n === 'edges-v4.json')!;
  const filter = edges.tables.find((t) => t.name === 'filter')!;
  const info = decodeGetInfo(Buffer.from(filter.info, 'hex'));
  const blob = (): Buffer => Buffer.from(filter.entries, 'hex');

  it('user chains come sorted by name (strcmp), built-in chains in hook order; policies from the last entry', () => {
    const chains = chainLayout(decodeEntries(blob(), 'ipv4'), info);
    expect(chains.map((c) => c.name)).toEqual(['INPUT', 'FORWARD', 'OUTPUT', 'A-CHAIN', 'Z/last_chain-with.dots', 'lower']);
    expect(chains.map((c) => c.verdict)).toEqual([-1, -2, -2, -5, -5, -5]);
  });

  it('a jump into a built-in chain, or an unknown negative verdict, is opaque', () => {
    const b = blob();
    const entries = decodeEntries(b, 'ipv4');
    // A-CHAIN's "-j Z/last..." rule: point the verdict at INPUT's first rule, then at verdict -7.
    const chains = chainLayout(entries, info);
    const jump = chains.find((c) => c.name === 'A-CHAIN')!.rules[1]!;
    const at = jump.offset + 112 + 32;
    b.writeInt32LE(info.hookEntry[1]!, at);
    let r = decodeTable('filter', info, b, 'ipv4', ctxOf(edges));
    let rule = r.table.chains.find((c) => c.name === 'A-CHAIN')!.rules[1]!;
    expect(rule.opaque).toEqual([expect.stringContaining('lands in built-in chain INPUT')]);
    b.writeInt32LE(-7, at);
    r = decodeTable('filter', info, b, 'ipv4', ctxOf(edges));
    rule = r.table.chains.find((c) => c.name === 'A-CHAIN')!.rules[1]!;
    expect(rule.opaque).toEqual(['standard target: verdict -7 has no name']);
    expect(rule.text).toBe('');
  });

  it('a policy verdict with no name fails the table', () => {
    const b = blob();
    const chains = chainLayout(decodeEntries(b, 'ipv4'), info);
    b.writeInt32LE(-9, chains[0]!.footOffset + 112 + 32);
    expect(() => decodeTable('filter', info, b, 'ipv4', ctxOf(edges))).toThrow(/policy verdict -9/);
  });
});
