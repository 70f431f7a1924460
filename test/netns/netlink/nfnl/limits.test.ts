import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, expect, it } from 'vitest';
import { describeIntegration, uniqueName } from '../../../helpers/env.js';
import { createNetns, destroyAll } from '../../../helpers/netns.js';
import { comparableSets } from './compare.js';
import { alignTimeouts, readNetlink, readTools } from './read-both.js';

describeIntegration('nftables + ipset reads under byte caps and concurrent changes', { root: true, commands: ['ip', 'ipset', 'nft', 'iptables-nft-restore'] }, () => {
  afterAll(destroyAll);

  it('a 20,000-member ipset: complete and equal to ipset save with room, truncated (not thrown) under a 64 KiB cap', async () => {
    const ns = await createNetns('nfc');
    const lines = ['create big hash:ip family inet hashsize 4096 maxelem 65536'];
    for (let i = 0; i < 20_000; i++) lines.push(`add big 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    await ns.exec(['ipset', 'restore'], { input: `${lines.join('\n')}\n` });
    const full = readNetlink(ns.path);
    expect(full.ipset.source.status).toBe('complete');
    expect(full.ipset.ipsets.sets[0]!.members).toHaveLength(20_000);
    const tools = await readTools(ns);
    alignTimeouts(full.ipset.ipsets, tools.ipsets);
    expect(comparableSets(full.ipset.ipsets)).toEqual(tools.ipsets);
    const capped = readNetlink(ns.path, 64 * 1024);
    expect(capped.ipset.source).toMatchObject({ source: 'ipset', status: 'truncated', reason: 'output_limit' });
    const kept = capped.ipset.ipsets.sets[0]?.members.length ?? 0;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(20_000);
  });

  it('a 3,000-rule ruleset: truncated sources under a 64 KiB cap, every rule kept is whole', async () => {
    const ns = await createNetns('nfc');
    const rules = Array.from({ length: 3000 }, (_, i) => `-A INPUT -s 10.${(i >> 8) & 255}.${i & 255}.0/24 -p tcp --dport ${1000 + i} -m comment --comment "rule ${i}" -j DROP`);
    await ns.exec(['iptables-nft-restore'], { input: `*filter\n${rules.join('\n')}\nCOMMIT\n` });
    const full = readNetlink(ns.path);
    expect(full.nft.sources.map((s) => s.status)).toEqual(['complete', 'complete', 'complete']);
    expect(full.nft.iptables[0]!.tables[0]!.chains[0]!.rules).toHaveLength(3000);
    const capped = readNetlink(ns.path, 64 * 1024);
    expect(capped.nft.sources.map((s) => [s.status, s.reason])).toEqual([['truncated', 'output_limit'], ['truncated', 'output_limit'], ['truncated', 'output_limit']]);
    const kept = capped.nft.iptables[0]?.tables[0]?.chains.find((c) => c.name === 'INPUT')?.rules ?? [];
    expect(kept.length).toBeLessThan(3000);
    kept.forEach((r, i) => expect(r.text).toBe(full.nft.iptables[0]!.tables[0]!.chains[0]!.rules[i]!.text));
  });

  it('rules committed while it reads: every read it calls complete is one generation (rule count = generation delta)', async () => {
    const ns = await createNetns('nfc');
    await ns.exec(['nft', 'add', 'table', 'inet', 'gen']);
    await ns.exec(['nft', 'add', 'chain', 'inet', 'gen', 'c']);
    const base = readNetlink(ns.path).nft.generation;
    const N = 1000;
    const file = join(tmpdir(), `${uniqueName('nfc')}.nft`);
    writeFileSync(file, 'add rule inet gen c counter\n'.repeat(N));
    // One transaction (one generation) per line, committed by a process running next to the reads.
    const writer = execa('ip', ['netns', 'exec', ns.name, 'nft', '-i'], { inputFile: file, timeout: 60_000, reject: false });
    let done = false;
    void writer.finally(() => {
      done = true;
    });
    let consistent = 0;
    let flagged = 0;
    let midway = 0;
    while (!done) {
      for (let i = 0; i < 20; i++) {
        const { nft } = readNetlink(ns.path);
        const count = nft.native.find((t) => t.name === 'gen')?.chains[0]?.rules.length ?? 0;
        if (nft.sources[2]!.status === 'complete') {
          expect(count).toBe(nft.generation - base);
          consistent++;
          if (count > 0 && count < N) midway++;
        } else {
          expect(nft.sources[2]).toMatchObject({ status: 'truncated', reason: 'interrupted' });
          flagged++;
        }
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    expect((await writer).exitCode).toBe(0);
    expect(readNetlink(ns.path).nft.native[0]!.chains[0]!.rules).toHaveLength(N);
    expect(midway).toBeGreaterThan(0);
    process.stdout.write(`generation test: ${consistent} consistent reads (${midway} mid-stream), ${flagged} flagged inconsistent\n`);
  }, 120_000);
});
