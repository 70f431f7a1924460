/**
 * Chain and ipset names two experiments share. Chaos Mesh derives them from the NetworkChaos's name alone, never
 * its namespace (chaos-mesh at 608b61e: controllers/podnetworkchaos/netutils/len.go:26 CompressName(originalName,
 * ...) hashes the name only; iptable/iptable.go:72 and :74 GenerateName and ipset/ipset.go:98 GenerateIPSetName call
 * it with `networkchaos.Name`). So two experiments with the same name in different Kubernetes namespaces that both
 * reach a pod append entries of the same names to its PodNetworkChaos (podnetworkchaosmanager/transaction.go Append
 * keeps both), and chaos-daemon applies them one after the other onto one chain and one set: the last one wins, and
 * the other entry reads as a mismatch. Pure.
 */
import type { ExperimentRef, PodNetworkIntent } from './model.js';

/** The other experiments whose PodNetworkChaos entries (ipsets, chains) carry `name`, sorted. */
export function collidingSources(name: string, source: ExperimentRef, intent: PodNetworkIntent | null): ExperimentRef[] {
  if (intent === null) return [];
  const others = new Set<ExperimentRef>();
  for (const e of [...intent.ipsets, ...intent.chains]) if (e.name === name && e.source !== source && e.source !== '') others.add(e.source);
  return [...others].sort();
}

/** `experiment web-partition in namespace other` for `other/web-partition`. */
function experimentWords(ref: ExperimentRef): string {
  const slash = ref.indexOf('/');
  return slash < 0 ? `experiment ${ref}` : `experiment ${ref.slice(slash + 1)} in namespace ${ref.slice(0, slash)}`;
}

/**
 * The words that end a mismatch's detail when its name collides with another experiment's entries ('' when it
 * does not): `; the name ... collides with experiment X in namespace Y (...)`.
 */
export function collisionNote(name: string, source: ExperimentRef, intent: PodNetworkIntent | null): string {
  const others = collidingSources(name, source, intent);
  if (others.length === 0) return '';
  return `; the name ${name} collides with ${others.map(experimentWords).join(', ')}: Chaos Mesh names chains and ipsets ` +
    "after the experiment's name, not its namespace, and chaos-daemon applies both entries onto one chain or set (the last one wins)";
}
