/**
 * Cost of a legacy read, printed (not a timed assertion: 2 shared cores). Run with XT_COST=1 as root:
 *   XT_COST=1 npx vitest run --config vitest.optin.config.ts test/netns/netlink/xtables/cost.optin.ts
 * Full netlink read = enter the namespace, open the raw sockets, read both *_tables_names, GET_INFO/GET_ENTRIES
 * of every table of both families, render every rule, leave. Compared with iptables-legacy-save -c +
 * ip6tables-legacy-save -c through nsenter, parsed (what the tools reader does for the same source).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { withNetns } from '../../../../agent/netns/netlink/enter.js';
import { SetIndex } from '../../../../agent/netns/netlink/xt/set-index.js';
import { readLegacy } from '../../../../agent/netns/netlink/xtables/read.js';
import { parseTableNames } from '../../../../agent/netns/netlink/read-namespace.js';
import { parseIptablesSave } from '../../../../agent/netns/nsenter/iptables.js';
import { ChaosMeshReplay } from '../../../helpers/chaos-mesh.js';
import { createNetns, destroyAll, type TestNetns } from '../../../helpers/netns.js';

function fullRead(path: string): number {
  return withNetns(path, null, (inside) => {
    const raw4 = inside.raw('ipv4');
    const raw6 = inside.raw('ipv6');
    try {
      const sets = new SetIndex(raw4);
      const ctx = { setName: (i: number) => sets.name(i) };
      const limits = { maxBytes: 16 << 20, deadline: performance.now() + 2000 };
      let rules = 0;
      for (const [raw, family, file] of [[raw4, 'ipv4', 'ip_tables_names'], [raw6, 'ipv6', 'ip6_tables_names']] as const) {
        const r = readLegacy(raw, family, parseTableNames(inside.procNet(file)), ctx, limits);
        if (r.source.status !== 'complete' || r.opaqueRules > 0) throw new Error(`read ${family}: ${JSON.stringify(r.source)}`);
        for (const t of r.dump?.tables ?? []) for (const c of t.chains) rules += c.rules.length;
      }
      return rules;
    } finally {
      raw4.close();
      raw6.close();
    }
  }).value;
}

function toolsRead(path: string): number {
  let rules = 0;
  for (const [bin, family] of [['iptables-legacy-save', 'ipv4'], ['ip6tables-legacy-save', 'ipv6']] as const) {
    const out = execFileSync('nsenter', [`--net=${path}`, '--', bin, '-c'], { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 10_000 });
    for (const t of parseIptablesSave(out, 'legacy', family).tables) for (const c of t.chains) rules += c.rules.length;
  }
  return rules;
}

/** CPU of reaped children of this process so far, ms (/proc/self/stat cutime + cstime, clock ticks of 10 ms). */
function childrenCpuMs(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

function measure(runs: number, fn: () => number): { wallMs: number; cpuMs: number; rules: number; childMs: number } {
  fn(); // warm up (koffi load, JIT)
  const child0 = childrenCpuMs();
  const walls: number[] = [];
  const cpus: number[] = [];
  let rules = 0;
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    rules = fn();
    walls.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpus.push((c.user + c.system) / 1000);
  }
  const median = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { wallMs: median(walls), cpuMs: median(cpus), rules, childMs: (childrenCpuMs() - child0) / runs };
}

/** kube-proxy-like nat: n services x 2 endpoints, each rule with a comment; plus the same count in filter. */
function bigRuleSet(services: number): string {
  const nat = ['*nat', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]', ':KUBE-SERVICES - [0:0]', ':KUBE-MARK-MASQ - [0:0]'];
  const rules: string[] = ['-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES', '-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000'];
  for (let s = 0; s < services; s++) {
    const svc = `KUBE-SVC-${String(s).padStart(12, '0')}`;
    nat.push(`:${svc} - [0:0]`);
    rules.push(`-A KUBE-SERVICES -d 10.96.${s >> 8}.${s & 255}/32 -p tcp -m comment --comment "ns${s}/svc${s}:http cluster IP" -m tcp --dport 80 -j ${svc}`);
    for (let e = 0; e < 2; e++) {
      const sep = `KUBE-SEP-${String(s).padStart(10, '0')}E${e}`;
      nat.push(`:${sep} - [0:0]`);
      rules.push(`-A ${svc} -m comment --comment "ns${s}/svc${s}:http -> 10.244.${s >> 8}.${e}:8080" ${e === 0 ? '-m statistic --mode random --probability 0.50000000000 ' : ''}-j ${sep}`);
      rules.push(`-A ${sep} -p tcp -m comment --comment "ns${s}/svc${s}:http" -m tcp -j DNAT --to-destination 10.244.${s >> 8}.${e}:8080`);
    }
  }
  return [...nat, ...rules, 'COMMIT', ''].join('\n');
}

describe.runIf(process.env.XT_COST === '1')('legacy read cost', () => {
  afterAll(destroyAll);
  const report: string[] = [];

  async function scenario(name: string, setup: (ns: TestNetns) => Promise<void>, runs: number, toolRuns: number): Promise<void> {
    const ns = await createNetns('xco');
    await ns.addPodInterface({ addr: '10.244.1.7/24' });
    await setup(ns);
    const nl = measure(runs, () => fullRead(ns.path));
    const tools = measure(toolRuns, () => toolsRead(ns.path));
    expect(nl.rules).toBe(tools.rules);
    report.push(`${name}: ${nl.rules} rules; netlink median ${nl.wallMs.toFixed(3)} ms wall / ${nl.cpuMs.toFixed(3)} ms CPU (${runs} runs); ` +
      `iptables-legacy-save + ip6tables-legacy-save via nsenter, parsed: ${tools.wallMs.toFixed(2)} ms wall / ${tools.cpuMs.toFixed(2)} ms CPU here + ${tools.childMs.toFixed(1)} ms CPU in the children, mean (${toolRuns} runs)`);
    await ns.destroy();
  }

  it('Chaos Mesh partition, empty namespace, 2,000 rules', async () => {
    await scenario('empty namespace (no legacy table)', async () => undefined, 500, 30);
    await scenario('Chaos Mesh partition (legacy, to + from)', async (ns) => {
      const cm = new ChaosMeshReplay(ns, 'legacy');
      await cm.partition({ experiment: 'web-partition', direction: 'to', cidrs: ['10.244.2.0/24'] });
      await cm.partition({ experiment: 'db-isolation-from', direction: 'from', cidrs: ['10.244.9.9'] });
    }, 500, 30);
    await scenario('2,000-rule nat (kube-proxy-like, 400 services x 2 endpoints)', async (ns) => {
      await ns.exec(['iptables-legacy-restore'], { input: bigRuleSet(400) });
    }, 100, 10);
    process.stdout.write(`\n${report.join('\n')}\n`);
  }, 600_000);
});
