/**
 * Faults without a per-pod network intent object, owned through the experiments' records (and, for HTTPChaos,
 * the PodHttpChaos rules' sources). Pure. Works from the fingerprint's verdict, so it follows whatever the
 * fingerprint recognises (issue 11 makes `dns` exact and adds chaos-tproxy's current layout to `http`).
 * - dns: an active `dns` finding is present when a DNSChaos has an Injected record for the pod (or one of its
 *   containers), a leftover otherwise; an Injected record with no `dns` state in the pod is missing.
 * - http: an active `http` finding is owned by the PodHttpChaos rules' sources (a leftover once every one of
 *   their HTTPChaos is absent, being deleted or stopped: lifecycle.ts), else by HTTPChaos records, else a leftover. Not reported missing: the fingerprint recognises only chaos-tproxy's pre-0.4.5 layout until
 *   issue 11 lands, so a missing claim would be wrong for current Chaos Mesh.
 */
import type { ChaosReport } from '../chaos/types.js';
import type { PendingEntry } from './drift.js';
import type { PodIntent } from './model.js';
import { httpSources } from './owners.js';

function injected(intent: PodIntent, kind: string): string[] {
  return intent.experiments
    .filter((e) => e.kind === kind && !e.deleting && e.records.some((r) => r.phase === 'Injected'))
    .map((e) => `${e.namespace}/${e.name}`)
    .sort();
}

export function matchRecords(intent: PodIntent, chaos: ChaosReport): PendingEntry[] {
  const out: PendingEntry[] = [];
  const dnsFindings = chaos.details.filter((d) => d.level === 'active' && (d.kind === 'dns' || d.kinds?.includes('dns')));
  const dnsOwners = injected(intent, 'DNSChaos');
  if (dnsFindings.length > 0) {
    out.push({
      artefact: 'dns', name: 'resolv.conf', where: null, owners: dnsOwners, state: dnsOwners.length ? 'present' : 'leftover', kinds: ['dns'], active: true,
      tokens: [], phrases: dnsFindings.map((d) => d.message),
      spec: dnsOwners.length ? `DNSChaos ${dnsOwners.join(', ')} Injected` : null, kernel: 'resolv.conf replaced',
      detail: dnsOwners.length ? `DNSChaos ${dnsOwners.join(', ')} is injected and the pod's resolv.conf is replaced` : "the pod's resolv.conf is replaced, but no DNSChaos has an Injected record for this pod",
    });
  } else if (dnsOwners.length > 0) {
    out.push({ artefact: 'dns', name: 'resolv.conf', where: null, owners: dnsOwners, state: 'missing', kinds: ['dns'], active: false, tokens: [], phrases: [],
      spec: `DNSChaos ${dnsOwners.join(', ')} Injected`, kernel: null,
      detail: `DNSChaos ${dnsOwners.join(', ')} has an Injected record for this pod, but its resolv.conf is not replaced` });
  }
  const httpFindings = chaos.details.filter((d) => d.level === 'active' && (d.kind === 'http' || d.kinds?.includes('http')));
  if (httpFindings.length > 0) {
    const fromRules = intent.http ? httpSources(intent.http) : [];
    const owners = fromRules.length > 0 ? fromRules : injected(intent, 'HTTPChaos');
    out.push({
      artefact: 'http', name: 'transparent proxy', where: null, owners, state: owners.length ? 'present' : 'leftover', kinds: ['http'], active: true,
      // Owned by the rules: their HTTPChaos' conditions decide (lifecycle.ts); records already leave deleting ones out.
      ...(fromRules.length > 0 ? { podChaos: 'PodHttpChaos' as const } : {}),
      tokens: [], phrases: httpFindings.map((d) => d.message),
      spec: owners.length ? `HTTPChaos ${owners.join(', ')}` : null, kernel: 'traffic diverted to a proxy',
      detail: owners.length ? `HTTPChaos ${owners.join(', ')} diverts the pod's traffic to its proxy` : 'traffic is diverted to a transparent proxy, but no PodHttpChaos rule or HTTPChaos record asks for it',
    });
  }
  return out;
}
