/**
 * DNSChaos as the network reader sees it: a container whose root holds /etc/resolv.conf.chaos.bak. The exact
 * judgement (backup alone = scaffolding; active when resolv.conf's nameservers differ from the backup's) belongs to
 * agent/chaos/processes.ts (the procfs side), whose findings join the report through FingerprintContext.extra;
 * this file is the placeholder it replaces. PURE.
 */
import type { NetnsState } from '../netns/state.js';
import { add, type Builder } from './findings.js';

export function dnsFindings(b: Builder, dnsChaos: NetnsState['dnsChaos']): void {
  for (const d of dnsChaos) {
    add(b, 'active', 'dns', `container ${d.container} (pid ${d.pid}) has /etc/resolv.conf.chaos.bak: DNSChaos replaced its /etc/resolv.conf`);
  }
}
