/**
 * Hostile pods, for real: three real containerd pods read by a real `serve` as shipped (bin/, its V8 flags):
 * - hostile: what a pod with NET_ADMIN can put in its own namespace: 150k legacy iptables rules, 150k iptables-nft
 *   rules, a 100k-member ipset, 10k qdiscs (htb classes with pfifo leaves on a veth pair), rules whose interface
 *   names and comments hold quotes, `#`, backslashes and 255-byte strings (the kernel's longest), and a real Chaos
 *   Mesh partition (iptables-nft) placed after 2,400 spam rules: where a cap of the first 2,000 rules would cut
 *   it, inside what the 2 MiB per-source cap reads;
 * - chaos: a real Chaos Mesh partition (iptables-legacy, as chaos-daemon's image does it);
 * - clean: nothing.
 * Proven with the default reader (auto: netlink): serve's peak RSS (VmHWM, after the collection and after
 * /debug/pods) stays under daemonset.yaml's memory limit; the hostile pod's spammed sources are `truncated`
 * (chaos_daemon_pod_truncated per source, and for the exported rules and qdiscs) and its verdict is `active` (the
 * chain read proves it; a cut proves nothing absent), with the partition's chains among the exported series; the
 * chaos and clean pods are read exactly in the same collection; every scrape answers; serve exits 0. Once with
 * --reader nsenter: the tools cannot stop iptables-nft-save early, the pod is unknown, the rest holds.
 * CNA_HOSTILE_PROF=<dir> runs serve with --cpu-prof into that directory (to see where a collection's time goes).
 */
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MAX_QDISCS_PER_POD } from '../../agent/metrics/qdisc-cap.js';
import { ChaosMeshReplay } from '../helpers/chaos-mesh.js';
import { startContainerd, type ContainerdHarness, type TestPod } from '../helpers/containerd.js';
import { describeIntegration, uniqueName } from '../helpers/env.js';
import { HOSTILE_XTABLES_LOCK, inNetns, spamIpset, spamRestore, spamTc, weirdRules, WEIRD_LINKS } from '../helpers/hostile-state.js';
import { samplesOf, valueOf } from '../helpers/metrics-lint.js';
import { enterNetns } from '../helpers/netns.js';
import { alive, descendants, settle, statusBytes } from '../helpers/procs.js';
import { repoRoot } from '../helpers/repo.js';
import { startServe, type ServeProcess } from '../helpers/serve.js';
import { get } from '../server/http-client.js';
import { collectedAt, debugPods, podIn, type PodDoc } from '../helpers/serve-scrape.js';

const NS = 'f9hostile';
const MiB = 1 << 20;
const RULES = 150_000;
/**
 * Spam rules before the Chaos Mesh chains in the nft ruleset: more than a cap of the first 2,000 rules keeps, fewer
 * than the 2 MiB netlink cap holds (~720 bytes per such rule in NFT_MSG_NEWRULE: ~2,900 rules).
 */
const RULES_BEFORE_CHAOS = 2_400;
const MEMBERS = 100_000;
/** Classes (each with a pfifo leaf) per spam link: 2 links give 10,000 leaves + 2 roots. */
const CLASSES_PER_LINK = 5_000;
// --runtime-timeout: containerd answers slowly on a loaded machine (the 2 s default can leave the node without pods);
// the namespace deadlines, which this file is about, are set per test.
const SERVE_ARGS = ['--debug-insecure', '--interval', '120s', '--runtime-timeout', '15s'];

/** resources.limits.memory of the agent's container in daemonset.yaml, in bytes (e.g. 320Mi). */
function daemonSetMemoryLimit(): number {
  const text = readFileSync(`${repoRoot()}/daemonset.yaml`, 'utf8');
  const m = /limits:\s*\n\s*memory:\s*(\d+)(Mi|Gi)\b/.exec(text);
  if (!m) throw new Error('daemonset.yaml: resources.limits.memory not found');
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 * MiB : MiB);
}

describeIntegration('hostile pods (real containerd pods, real serve)', { root: true, commands: ['containerd', 'runc', 'ctr', 'nsenter', 'ipset', 'tc', 'ip', 'iptables-legacy-restore', 'iptables-nft-restore'] }, () => {
  let h: ContainerdHarness | undefined;
  let s: ServeProcess | undefined;
  const pods = {} as Record<'hostile' | 'chaos' | 'clean', TestPod>;
  const limit = daemonSetMemoryLimit();
  let chaosChain = '';

  beforeAll(async () => {
    h = await startContainerd({ name: 'f9hostile' });
    for (const k of ['hostile', 'chaos', 'clean'] as const) pods[k] = await h.runPod({ name: uniqueName(`f9${k.slice(0, 3)}`), namespace: NS });
    const t0 = performance.now();
    const path = pods.hostile.netnsPath;
    const ns = enterNetns(path);
    const nftChaos = async (): Promise<void> => {
      // Named to sort before CHAOS-*: iptables-save order (and a naive cap) puts its rules before the chaos chains.
      await inNetns(path, ['iptables-nft-restore'], spamRestore('AA-SPAM', RULES_BEFORE_CHAOS));
      await inNetns(path, ['iptables-nft', '-w', '-N', 'WEIRD']);
      for (const r of weirdRules('WEIRD')) await inNetns(path, ['iptables-nft', '-w', '-A', ...r]);
      const p = await new ChaosMeshReplay(ns, 'nft').partition({ experiment: 'hostile-partition', direction: 'to', cidrs: ['10.96.0.0/16'] });
      chaosChain = p.chain;
      await inNetns(path, ['iptables-nft-restore', '--noflush'], spamRestore('SPAM-B', RULES - RULES_BEFORE_CHAOS, RULES_BEFORE_CHAOS, false));
      await inNetns(path, ['ipset', 'restore'], spamIpset('spam', MEMBERS));
    };
    const legacy = async (): Promise<void> => {
      await inNetns(path, ['iptables-legacy-restore'], spamRestore('SPAM', RULES));
      await inNetns(path, ['iptables-legacy', '-w', '-N', 'WEIRD']);
      for (const r of weirdRules('WEIRD')) await inNetns(path, ['iptables-legacy', '-w', '-A', ...r]);
    };
    const tc = async (): Promise<void> => {
      await inNetns(path, ['ip', 'link', 'add', 'spam0', 'type', 'veth', 'peer', 'name', 'spam1']);
      await inNetns(path, ['ip', 'link', 'add', WEIRD_LINKS[0], 'type', 'veth', 'peer', 'name', WEIRD_LINKS[1]]);
      for (const dev of WEIRD_LINKS) await inNetns(path, ['tc', 'qdisc', 'add', 'dev', dev, 'root', 'handle', '1:', 'htb', 'default', '1']);
      await inNetns(path, ['tc', '-batch', '-'], spamTc(['spam0', 'spam1'], CLASSES_PER_LINK));
    };
    const chaos = async (): Promise<void> => {
      await new ChaosMeshReplay(enterNetns(pods.chaos.netnsPath), 'legacy').partition({ experiment: 'plain-partition', direction: 'to', cidrs: ['10.97.0.0/16'] });
    };
    // The chaos pod first (its replay takes the machine's /run/xtables.lock; the hostile restores use their own).
    await chaos();
    await Promise.all([nftChaos(), legacy(), tc()]);
    console.log(`hostile state loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }, 600_000);

  afterAll(async () => {
    await rm(HOSTILE_XTABLES_LOCK, { force: true });
    await s?.stop(1000);
    await h?.stop();
  });

  /**
   * Scrape /metrics every 250 ms until the first collection is published: every scrape must answer (serve keeps
   * serving while it reads the hostile pod: 503 until the first is published, never a timeout). Returns that exposition and the slowest scrape, ms.
   */
  async function firstCollection(srv: ServeProcess, timeoutMs: number): Promise<{ text: string; slowestMs: number }> {
    const end = Date.now() + timeoutMs;
    let slowestMs = 0;
    for (;;) {
      const t0 = performance.now();
      const r = await get(srv.port, '/metrics');
      slowestMs = Math.max(slowestMs, performance.now() - t0);
      expect([200, 503]).toContain(r.status); // 503: no collection published yet (readiness)
      if (r.status === 200 && collectedAt(r.text) > 0) return { text: r.text, slowestMs };
      if (Date.now() > end) throw new Error(`no collection within ${timeoutMs} ms: ${srv.stderr().slice(-2000)}`);
      await new Promise((res) => setTimeout(res, 250));
    }
  }

  interface Read {
    text: string;
    hostile: PodDoc;
    /** serve's VmHWM after the collection, and after /debug/pods was rendered. */
    hwmCollected: number;
    hwm: number;
    seconds: number;
    slowestMs: number;
  }

  /**
   * Start serve, wait for its first collection, check the pods next to the hostile one (read exactly in the same
   * collection), serve's memory and its clean exit; returns the hostile pod and what was measured.
   */
  async function readWith(reader: 'auto' | 'nsenter', extra: string[]): Promise<Read> {
    const prof = process.env.CNA_HOSTILE_PROF ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${process.env.CNA_HOSTILE_PROF}`] } : {};
    s = await startServe([...SERVE_ARGS, ...extra, '--runtime-endpoint', h!.endpoint, '--reader', reader], { startTimeoutMs: 60_000, ...prof });
    const { text, slowestMs } = await firstCollection(s, 240_000);
    const hwmCollected = statusBytes(s.pid, 'VmHWM')!;
    const docs = await debugPods(s);
    const hwm = statusBytes(s.pid, 'VmHWM')!;
    const seconds = valueOf(text, 'chaos_daemon_collection_duration_seconds')!;
    const hostile = podIn(docs, NS, pods.hostile.name);
    console.log(`--reader ${reader}: serve VmHWM ${(hwmCollected / MiB).toFixed(1)} MiB after the collection, ${(hwm / MiB).toFixed(1)} MiB after /debug/pods (limit ${(limit / MiB).toFixed(0)} MiB); collection ${seconds.toFixed(2)} s; slowest scrape ${slowestMs.toFixed(0)} ms; hostile sources ${JSON.stringify(hostile.sources)}`);

    const chaos = podIn(docs, NS, pods.chaos.name);
    expect(chaos.sources.filter((x) => x.status !== 'complete')).toEqual([]);
    expect([chaos.chaos.verdict, chaos.chaos.findings.some((f) => /partition|drops/.test(f))]).toEqual(['active', true]);
    expect(valueOf(text, 'chaos_daemon_injection_active', { namespace: NS, pod: pods.chaos.name, kind: 'partition', experiment: '' })).toBe(1);
    const clean = podIn(docs, NS, pods.clean.name);
    expect(clean.sources.filter((x) => x.status !== 'complete')).toEqual([]);
    expect(clean.chaos.verdict).toBe('clean');
    expect(valueOf(text, 'chaos_daemon_pod_verdict', { namespace: NS, pod: pods.clean.name, verdict: 'clean' })).toBe(1);

    expect(hwm).toBeLessThan(limit);
    // And within the headroom daemonset.yaml's comment promises (peak + ~30%): 70% of the limit.
    expect(hwm).toBeLessThan(0.7 * limit);
    expect(alive(s.pid)).toBe(true);
    const pid = s.pid;
    await settle(() => descendants(pid).length === 0);
    expect(descendants(s.pid)).toEqual([]);
    s.child.kill('SIGTERM');
    expect((await s.exited).code).toBe(0);
    s = undefined;
    return { text, hostile, hwmCollected, hwm, seconds, slowestMs };
  }

  /** The hostile pod's incomplete sources as `source:status:reason`. */
  const incomplete = (p: PodDoc): string[] => p.sources.filter((x) => x.status !== 'complete').map((x) => `${x.source}:${x.status}:${x.reason}`);

  it('auto (netlink): under the memory limit, every spammed source truncated, the partition behind the spam judged active and exported', async () => {
    const { text, hostile } = await readWith('auto', ['--namespace-timeout', '60s']);
    const label = { namespace: NS, pod: pods.hostile.name };
    expect((hostile as PodDoc & { reader?: string }).reader).toBe('netlink'); // no fallback to the tools
    for (const source of ['iptables-legacy-ipv4', 'iptables-nft-ipv4', 'nftables', 'ipset', 'tc']) {
      expect(incomplete(hostile), JSON.stringify(hostile.sources)).toContain(`${source}:truncated:output_limit`);
      expect(valueOf(text, 'chaos_daemon_pod_truncated', { ...label, what: source })).toBe(1);
    }
    // What was read proves the partition (a cut proves nothing absent, a chain read proves it present).
    expect(hostile.chaos.verdict).toBe('active');
    expect(hostile.chaos.findings.join('\n')).toMatch(/incomplete read: /);
    expect(valueOf(text, 'chaos_daemon_pod_verdict', { ...label, verdict: 'active' })).toBe(1);
    expect(valueOf(text, 'chaos_daemon_injection_active', { ...label, kind: 'partition', experiment: '' })).toBe(1);
    // The exported rules are capped (--max-rules-per-pod 2000), chaos chains first: the partition's chains are there.
    expect(valueOf(text, 'chaos_daemon_pod_truncated', { ...label, what: 'rules' })).toBe(1);
    const exported = samplesOf(text, 'chaos_daemon_iptables_packets').filter((x) => x.labels.pod === pods.hostile.name);
    expect(exported.length).toBeLessThanOrEqual(2000);
    expect(exported.some((x) => x.labels.chain === chaosChain)).toBe(true);
    expect(exported.some((x) => x.labels.chain === 'CHAOS-OUTPUT')).toBe(true);
    // 10k qdiscs: their statistics series are capped per pod too (6 series per qdisc otherwise).
    expect(valueOf(text, 'chaos_daemon_pod_truncated', { ...label, what: 'qdiscs' })).toBe(1);
    expect(samplesOf(text, 'chaos_daemon_qdisc_packets_total').filter((x) => x.labels.pod === pods.hostile.name).length).toBeLessThanOrEqual(MAX_QDISCS_PER_POD);
  }, 300_000);

  it('nsenter: the same pod through the tools: cut by time and output, unknown, the others exact, under the memory limit', async () => {
    // iptables-nft-save and nft fetch the whole 150k-rule ruleset before printing anything: no output cap can stop
    // them early, only the time budget (the netlink reader stops the dump at the cap instead).
    const { text, hostile } = await readWith('nsenter', ['--namespace-timeout', '10s', '--command-timeout', '10s']);
    const cut = incomplete(hostile);
    expect(cut).toContain('iptables-legacy-ipv4:truncated:output_limit');
    for (const source of ['iptables-nft-ipv4', 'nftables', 'ipset', 'tc']) expect(cut, JSON.stringify(hostile.sources)).toContainEqual(expect.stringMatching(new RegExp(`^${source}:(failed|truncated):(timeout|output_limit)$`)));
    expect(hostile.chaos.verdict).toBe('unknown');
    expect(valueOf(text, 'chaos_daemon_pod_verdict', { namespace: NS, pod: pods.hostile.name, verdict: 'unknown' })).toBe(1);
  }, 300_000);
});
