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

/** The entries SetDrop appends for a direction-`to` partition whose targets have these IPs (`/32` appended). */
export function partitionEntries(experimentNs: string, experiment: string, targetIps: string[], device = 'eth0'): PartitionEntries {
  const source = `${experimentNs}/${experiment}`;
  const net = ipsetName(experiment, 'net_tgt');
  const netport = ipsetName(experiment, 'netport_tgt');
  const set = ipsetName(experiment, 'set_tgt');
  return {
    ipsets: [
      { name: net, ipsetType: 'hash:net', cidrs: targetIps.map((ip) => `${ip}/32`), source },
      { name: netport, ipsetType: 'hash:net,port', source },
      { name: set, ipsetType: 'list:set', setNames: [net, netport], source },
    ],
    iptables: [{ name: chainName('OUTPUT', experiment), ipsets: [set], direction: 'output', device, source }],
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
