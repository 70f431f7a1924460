/**
 * Hand-built Snapshots for the metric tests: a pod under a Chaos Mesh partition + delay/loss (netem) +
 * bandwidth (tbf), a clean pod, and small builders to vary them.
 */
import type { ChaosKind, ChaosReport, Verdict } from '../../agent/chaos/types.js';
import type { IptablesChain, IptablesDump, IptablesRule, Qdisc, QdiscStats } from '../../agent/netns/state.js';
import type { ContainerInfo, PodInfo, RuntimeStatus } from '../../agent/runtime/types.js';
import type { PodReport, Snapshot } from '../../agent/snapshot.js';
import { ALL_SOURCES, type SourceStatus } from '../../agent/netns/state.js';

/** Every source of a namespace read, each complete: what a successful read reports. */
export function completeSources(): SourceStatus[] {
  return ALL_SOURCES.map((source) => ({ source, status: 'complete' }));
}

export function rule(text: string, packets: number, bytes: number, target: string | null = null): IptablesRule {
  return {
    text, counters: { packets, bytes }, target, goto: false, targetOptions: '', inInterface: null, outInterface: null,
    protocol: null, source: null, destination: null, dport: null, sport: null, matchSets: [], comment: null, modules: [],
  };
}

export function chain(name: string, policy: string | null, rules: IptablesRule[]): IptablesChain {
  return { name, policy, builtin: policy !== null, counters: policy !== null ? { packets: 0, bytes: 0 } : null, rules };
}

export function filterDump(chains: IptablesChain[], backend: 'legacy' | 'nft' = 'nft'): IptablesDump {
  return { backend, family: 'ipv4', tables: [{ name: 'filter', chains }], errors: [] };
}

export function stats(p: Partial<QdiscStats> = {}): QdiscStats {
  return { bytes: 0, packets: 0, drops: 0, overlimits: 0, requeues: 0, backlog: 0, qlen: 0, ...p };
}

export function qdisc(iface: string, kind: string, handle: string, parent: string, extra: Partial<Qdisc> = {}): Qdisc {
  return { interface: iface, kind, handle, parent, root: parent === 'root', options: {}, stats: stats(), ...extra };
}

export function chaos(verdict: Verdict, kinds: ChaosKind[] = []): ChaosReport {
  const details = kinds.map((k) => ({ kind: k, level: 'active' as const, message: `${k} evidence` }));
  return { verdict, kinds, findings: details.map((d) => d.message), details };
}

export function container(name: string, id: string, state: ContainerInfo['state'] = 'CONTAINER_RUNNING'): ContainerInfo {
  return { id, name, state, pid: 4242 };
}

export function podInfo(namespace: string, name: string, containers: ContainerInfo[], extra: Partial<PodInfo> = {}): PodInfo {
  return {
    namespace, name, uid: `uid-${name}`, runtime: 'containerd', endpoint: 'unix:///run/containerd/containerd.sock',
    sandboxId: `sb-${name}`, state: 'SANDBOX_READY', pid: 4241, hostNetwork: false,
    netns: { inode: 4026532000, path: '/proc/4241/ns/net' }, containers, ...extra,
  };
}

/**
 * `r`'s pod as listed once its sandbox has stopped (unread: verdict unknown): NOTREADY, no PID or namespace, and
 * every container exited unless `running` names it (a container that outlived its sandbox, as it does under Docker).
 */
export function sandboxStopped(r: PodReport, running: readonly string[] = []): PodReport {
  const pod = r.pod!;
  const containers = pod.containers.map((c) => (running.includes(c.name) ? c : { ...c, state: 'CONTAINER_EXITED' as const, pid: null }));
  return { ...r, pod: { ...pod, state: 'SANDBOX_NOTREADY', pid: null, netns: null, containers }, chaos: chaos('unknown') };
}

export function report(pod: PodInfo, extra: Partial<PodReport> = {}): PodReport {
  return {
    namespace: pod.namespace, name: pod.name, runtime: pod.runtime, netns: pod.netns, pod,
    chaos: chaos('clean'), iptables: [], ipsets: { sets: [], errors: [] },
    tc: { qdiscs: [qdisc('lo', 'noqueue', '0:', 'root'), qdisc('eth0', 'noqueue', '0:', 'root')], classes: [], filters: [], errors: [] },
    ipRules: [], dnsChaos: [], errors: [], spawns: 4, reader: 'netlink', sources: completeSources(), ...extra,
  };
}

/** default/web-1: two running containers (app, sidecar) and one exited; partition + delay + loss + bandwidth. */
export function chaosPod(): PodReport {
  const pod = podInfo('default', 'web-1', [
    container('app', 'c-app'), container('sidecar', 'c-side'), container('init', 'c-init', 'CONTAINER_EXITED'),
  ]);
  return report(pod, {
    chaos: chaos('active', ['bandwidth', 'delay', 'loss', 'partition']),
    iptables: [filterDump([
      chain('INPUT', 'ACCEPT', [rule('-j CHAOS-INPUT', 10, 600, 'CHAOS-INPUT')]),
      chain('OUTPUT', 'ACCEPT', [rule('-j CHAOS-OUTPUT', 20, 1200, 'CHAOS-OUTPUT')]),
      chain('CHAOS-INPUT', null, []),
      chain('CHAOS-OUTPUT', null, [rule('-j OUTPUT/web_2f9c1d3a4b5e6f_', 20, 1200, 'OUTPUT/web_2f9c1d3a4b5e6f_')]),
      chain('OUTPUT/web_2f9c1d3a4b5e6f_', null, [rule('-o eth0 -m set --match-set set_web_2f9c1d3a4b5e6f_tgt dst,dst -j DROP', 5, 300, 'DROP')]),
    ])],
    ipsets: {
      sets: [
        { name: 'set_web_2f9c1d3a4b5e6f_tgt', type: 'list:set', optionsText: '', options: {}, members: [{ value: 'net_web_2f9c1d3a4b5e6f_tgt', options: '' }] },
        { name: 'net_web_2f9c1d3a4b5e6f_tgt', type: 'hash:net', optionsText: '', options: {}, members: [{ value: '10.0.0.0/24', options: '' }, { value: '10.0.1.5', options: '' }] },
      ],
      errors: [],
    },
    tc: {
      qdiscs: [
        qdisc('lo', 'noqueue', '0:', 'root'),
        qdisc('eth0', 'netem', '1:', 'root', {
          netem: { delaySeconds: 0.1, jitterSeconds: 0.01, delayCorrelation: 0.25, loss: 0.5, limit: 1000 },
          stats: stats({ bytes: 98000, packets: 700, drops: 350, overlimits: 0, requeues: 1, backlog: 1500 }),
        }),
        qdisc('eth0', 'tbf', '2:', '1:', {
          tbf: { rateBytesPerSecond: 125000, burstBytes: 10000, limitBytes: 20000 },
          stats: stats({ bytes: 50000, packets: 350, drops: 7, overlimits: 42 }),
        }),
      ],
      classes: [], filters: [], errors: [],
    },
  });
}

/** kube-system/dns-1: one running container, nothing injected. */
export function cleanPod(): PodReport {
  return report(podInfo('kube-system', 'dns-1', [container('coredns', 'c-dns')]));
}

export function runtimeUp(extra: Partial<RuntimeStatus> = {}): RuntimeStatus {
  return {
    endpoint: 'unix:///run/containerd/containerd.sock', protocol: 'cri', source: 'discovered', up: true,
    runtime: 'containerd', version: '1.6.20', apiVersion: 'v1', criApi: 'v1', error: null, ...extra,
  };
}

export function snapshot(pods: PodReport[], extra: Partial<Snapshot> = {}): Snapshot {
  return {
    startedAt: 1_700_000_000, finishedAt: 1_700_000_000.25, durationSeconds: 0.25, cpuSeconds: 0.05,
    runtimes: [runtimeUp(), runtimeUp({ endpoint: 'unix:///var/run/docker.sock', protocol: 'docker', up: false, runtime: null, version: null, apiVersion: null, criApi: undefined, error: 'ENOENT' })],
    pods,
    containerStats: [
      { containerId: 'c-app', sandboxId: 'sb-web-1', name: 'app', cpuSeconds: 12.5, memoryWorkingSetBytes: 1048576 },
      { containerId: 'c-init', sandboxId: 'sb-web-1', name: 'init', cpuSeconds: 1, memoryWorkingSetBytes: 0 },
    ],
    collectors: [{ collector: 'runtime', success: true, seconds: 0.01 }, { collector: 'netns', success: true, seconds: 0.2 }],
    spawns: 8,
    ...extra,
  };
}
