import { loadavg } from 'node:os';
import { afterAll, expect, it } from 'vitest';
import { withNetns } from '../../../../agent/netns/netlink/enter.js';
import { readIpset } from '../../../../agent/netns/netlink/nfnl/ipset.js';
import { readNftables } from '../../../../agent/netns/netlink/nfnl/read-nftables.js';
import { SetIndex } from '../../../../agent/netns/netlink/xt/set-index.js';
import { ChaosMeshReplay } from '../../../helpers/chaos-mesh.js';
import { describeIntegration } from '../../../helpers/env.js';
import { createNetns, destroyAll, type TestNetns } from '../../../helpers/netns.js';
import { LIMITS } from './read-both.js';

const RUNS = 300;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface Cost {
  /** Median CPU ms (user + system of this process) of the two reads on open sockets, and of the whole visit. */
  readsCpu: number;
  visitCpu: number;
  /** Median wall ms of the same (inflated when the shared machine is loaded). */
  readsWall: number;
  visitWall: number;
  rules: number;
  members: number;
}

const cpuMs = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1000;

/** The read as a worker does it: enter, open the sockets, readNftables + readIpset, close, come back. */
function measure(ns: TestNetns): Cost {
  const readsCpu: number[] = [];
  const readsWall: number[] = [];
  const visitCpu: number[] = [];
  const visitWall: number[] = [];
  let rules = 0;
  let members = 0;
  for (let i = 0; i < RUNS; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    withNetns(ns.path, null, (inside) => {
      const nl = inside.netfilter();
      const raw = inside.raw('ipv4');
      const sets = new SetIndex(raw);
      const c1 = process.cpuUsage();
      const t1 = performance.now();
      const nft = readNftables(nl, LIMITS(), { setName: (x) => sets.name(x) });
      const ipset = readIpset(nl, LIMITS());
      readsWall.push(performance.now() - t1);
      readsCpu.push(cpuMs(process.cpuUsage(c1)));
      rules = nft.iptables.reduce((n, d) => n + d.tables.reduce((m, t) => m + t.chains.reduce((k, c) => k + c.rules.length, 0), 0), 0);
      members = ipset.ipsets.sets.reduce((n, s) => n + s.members.length, 0);
      nl.close();
      raw.close();
    });
    visitWall.push(performance.now() - t0);
    visitCpu.push(cpuMs(process.cpuUsage(c0)));
  }
  return { readsCpu: median(readsCpu), visitCpu: median(visitCpu), readsWall: median(readsWall), visitWall: median(visitWall), rules, members };
}

const fmt = (c: Cost): string =>
  `reads ${c.readsCpu.toFixed(2)} ms CPU (${c.readsWall.toFixed(2)} wall), whole visit ${c.visitCpu.toFixed(2)} ms CPU (${c.visitWall.toFixed(2)} wall)`;

describeIntegration('cost of the nftables + ipset netlink read (measured, printed)', { root: true, commands: ['ip', 'iptables-nft', 'ipset'] }, () => {
  afterAll(destroyAll);

  it(`Chaos Mesh partition (nft backend) and a 2,000-member ipset: median over ${RUNS} reads`, async () => {
    const chaos = await createNetns('nfm');
    await chaos.addPodInterface({ addr: '10.244.1.7/24' });
    await new ChaosMeshReplay(chaos, 'nft').partition({ experiment: 'web-partition', direction: 'to', cidrs: ['10.244.2.0/24', '10.96.0.10'], cidrPorts: ['10.244.3.0/24,tcp:8080'] });
    const big = await createNetns('nfm');
    const lines = ['create big hash:net family inet'];
    for (let i = 0; i < 2000; i++) lines.push(`add big 10.${(i >> 8) & 255}.${i & 255}.0/24`);
    await big.exec(['ipset', 'restore'], { input: `${lines.join('\n')}\n` });

    const c = measure(chaos);
    const b = measure(big);
    const tools: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      for (const tool of [['iptables-nft-save', '-c'], ['ip6tables-nft-save', '-c'], ['ipset', 'save']]) await chaos.exec(tool);
      tools.push(performance.now() - t0);
    }
    process.stdout.write(
      `nfnl cost, median of ${RUNS}: Chaos Mesh partition (${c.rules} rules, ${c.members} set members): ${fmt(c)}; ` +
      `2,000-member ipset: ${fmt(b)}; for scale, iptables-nft-save x2 + ipset save through ip netns exec: ${median(tools).toFixed(1)} ms wall; ` +
      `load average ${loadavg()[0]!.toFixed(1)}\n`,
    );
    expect(c.rules).toBe(4);
    expect(c.members).toBe(5);
    expect(b.members).toBe(2000);
    // Generous bounds (2 shared cores): a regression by an order of magnitude fails.
    expect(c.visitCpu).toBeLessThan(10);
    expect(b.visitCpu).toBeLessThan(50);
  }, 120_000);
});
