/**
 * Chaos Mesh objects as its controllers write them to the Kubernetes API (chaos-mesh api/v1alpha1/*_types.go,
 * controllers/chaosimpl/networkchaos/partition/impl.go SetDrop, controllers/podnetworkchaos/ipset/ipset.go
 * BuildIPSets / BuildSetIPSet): a partition's PodNetworkChaos entries carry the same names the daemon then puts
 * in the kernel (chaos-mesh.ts computes them), every entry's `source` is `<namespace>/<NetworkChaos name>`, and
 * the experiment's status.experiment.containerRecords[] has one record per selected pod.
 */
import type { KubeObject } from './fake-kube-apiserver.js';
import { chainName, ipsetName } from './chaos-mesh.js';

export interface PartitionEntries {
  ipsets: Record<string, unknown>[];
  iptables: Record<string, unknown>[];
}

/**
 * The entries SetDrop appends for a partition (ChaosMeshReplay.partitionLayout builds the same in the kernel):
 * `to` = an OUTPUT chain matching the `_tgt` sets, `from` = an INPUT chain matching the `_src` sets. Target IPs get
 * `/32` appended as netutils.IPToCidr does; CIDRs are kept; `cidrPorts` are `cidr,tcp:port` members.
 */
export function partitionEntries(
  experimentNs: string,
  experiment: string,
  targets: string[],
  opts: { device?: string; direction?: 'to' | 'from'; cidrPorts?: string[] } = {},
): PartitionEntries {
  const source = `${experimentNs}/${experiment}`;
  const role = (opts.direction ?? 'to') === 'to' ? 'tgt' : 'src';
  const net = ipsetName(experiment, `net_${role}`);
  const netport = ipsetName(experiment, `netport_${role}`);
  const set = ipsetName(experiment, `set_${role}`);
  const cidrAndPorts = (opts.cidrPorts ?? []).map((m) => {
    const [cidr = '', port = ''] = m.split(/,(?:tcp:)?/);
    return { cidr, port: Number(port) };
  });
  const output = role === 'tgt';
  return {
    ipsets: [
      { name: net, ipsetType: 'hash:net', cidrs: targets.map((ip) => (ip.includes('/') ? ip : `${ip}/32`)), source },
      { name: netport, ipsetType: 'hash:net,port', ...(cidrAndPorts.length ? { cidrAndPorts } : {}), source },
      { name: set, ipsetType: 'list:set', setNames: [net, netport], source },
    ],
    iptables: [{ name: chainName(output ? 'OUTPUT' : 'INPUT', experiment), ipsets: [set], direction: output ? 'output' : 'input', device: opts.device ?? 'eth0', source }],
  };
}

export function podNetworkChaos(
  namespace: string,
  pod: string,
  spec: { ipsets?: unknown[]; iptables?: unknown[]; tcs?: unknown[] },
  status: { observedGeneration?: number; failedMessage?: string } = { observedGeneration: 1 },
): KubeObject {
  return { metadata: { namespace, name: pod }, spec, status };
}

export interface RecordSpec {
  id: string;
  phase?: 'Injected' | 'Not Injected';
  selectorKey?: string;
}

/** An experiment (NetworkChaos, DNSChaos, StressChaos...) with its records. */
export function experiment(namespace: string, name: string, action: string, records: RecordSpec[], extraStatus: Record<string, unknown> = {}): KubeObject {
  return {
    metadata: { namespace, name },
    spec: { action, mode: 'all', selector: { namespaces: [namespace] } },
    status: {
      conditions: [{ type: 'AllInjected', status: 'True' }],
      experiment: {
        desiredPhase: 'Run',
        containerRecords: records.map((r) => ({
          id: r.id,
          selectorKey: r.selectorKey ?? '.',
          phase: r.phase ?? 'Injected',
          injectedCount: r.phase === 'Not Injected' ? 0 : 1,
          recoveredCount: 0,
          events: [{ type: 'Succeeded', operation: 'Apply', timestamp: '2026-11-29T08:00:00Z' }],
        })),
      },
      ...extraStatus,
    },
  };
}
