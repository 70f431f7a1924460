/**
 * The benchmark's corpora (bench/inject.ts) in real namespaces, read as `serve` reads them (`--reader auto`):
 * what the bench checks before measuring must hold, and its "fallbacks 0 on every corpus" must come from the
 * netlink decoders rendering these rules exactly, not from the bench. Chaos Mesh's state reads `active`
 * partition + bandwidth, Istio's nat rules read `clean`, both without a read through the tools; chaos-daemon's
 * iptables-legacy-save sees the rule count the bench expects.
 */
import { statSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { judge } from '../../agent/collect/report.js';
import { silentLogger } from '../../agent/log.js';
import { createNetnsReader, type NetnsReader } from '../../agent/netns/read.js';
import { MESH_RULES_IPV4, applyCorpus } from '../../bench/inject.js';
import { describeIntegration } from '../helpers/env.js';
import { createNetns, destroyAll } from '../helpers/netns.js';

const readers: NetnsReader[] = [];
afterEach(async () => {
  for (const r of readers.splice(0)) await r.close();
});

const autoReader = (): NetnsReader => {
  const r = createNetnsReader({
    reader: 'auto', netnsConcurrency: 1, nsenterPath: 'nsenter', commandTimeoutMs: 5000,
    maxOutputBytes: 2 << 20, namespaceTimeoutMs: 10_000, procRoot: '/proc',
  });
  readers.push(r);
  return r;
};

describe('mesh corpus shape', () => {
  it('counts the IPv4 nat rules chaos-daemon will see (2 jumps from the built-ins, 16 in the ISTIO_* chains)', () => {
    expect(MESH_RULES_IPV4).toBe(18);
  });
});

describeIntegration('bench corpora read by the agent', { root: true, commands: ['ip', 'nsenter', 'ipset', 'tc', 'iptables-legacy-restore', 'ip6tables-legacy-restore', 'iptables-legacy-save'] }, () => {
  afterAll(destroyAll);

  it('chaos: active partition + bandwidth over netlink, no fallback', async () => {
    const ns = await createNetns('bci');
    await ns.addPodInterface({ addr: '10.253.1.2/24' });
    const pid = await ns.startHolder();
    await applyCorpus(ns.path, 'chaos');
    const reader = autoReader();
    const state = await reader.read({ path: ns.path, inode: statSync(ns.path).ino, pid });
    expect([...reader.fallbacks]).toEqual([]);
    expect(state.reader).toBe('netlink');
    const report = judge(state, silentLogger());
    expect(report.verdict).toBe('active');
    expect(report.kinds).toEqual(expect.arrayContaining(['partition', 'bandwidth']));
  });

  it('mesh: Istio nat rules in both families read clean over netlink, no fallback; iptables-legacy-save shows them all', async () => {
    const ns = await createNetns('bme');
    await ns.addPodInterface({ addr: '10.253.2.2/24', addr6: 'fd00:253:2::2/64' });
    const pid = await ns.startHolder();
    await applyCorpus(ns.path, 'mesh');
    const save = await ns.exec(['iptables-legacy-save', '-t', 'nat']);
    expect(save.stdout.split('\n').filter((l) => l.startsWith('-A ')).length).toBe(MESH_RULES_IPV4);
    const reader = autoReader();
    const state = await reader.read({ path: ns.path, inode: statSync(ns.path).ino, pid });
    expect([...reader.fallbacks]).toEqual([]);
    expect(state.reader).toBe('netlink');
    const nat = (family: string) => state.iptables.find((d) => d.backend === 'legacy' && d.family === family)?.tables.find((t) => t.name === 'nat');
    for (const family of ['ipv4', 'ipv6']) {
      const chains = nat(family)?.chains ?? [];
      expect(chains.map((c) => c.name)).toEqual(expect.arrayContaining(['ISTIO_INBOUND', 'ISTIO_IN_REDIRECT', 'ISTIO_OUTPUT', 'ISTIO_REDIRECT']));
      expect(chains.flatMap((c) => c.rules).length).toBe(MESH_RULES_IPV4);
      expect(chains.find((c) => c.name === 'ISTIO_REDIRECT')?.rules.map((r) => r.text)).toEqual(['-p tcp -j REDIRECT --to-ports 15001']);
    }
    expect(judge(state, silentLogger()).verdict).toBe('clean');
  });

  it('clean: nothing written, verdict clean', async () => {
    const ns = await createNetns('bcl');
    await ns.addPodInterface({ addr: '10.253.3.2/24' });
    const pid = await ns.startHolder();
    await applyCorpus(ns.path, 'clean');
    const reader = autoReader();
    const state = await reader.read({ path: ns.path, inode: statSync(ns.path).ino, pid });
    expect([...reader.fallbacks]).toEqual([]);
    expect(state.iptables).toEqual([]);
    expect(judge(state, silentLogger()).verdict).toBe('clean');
  });
});
