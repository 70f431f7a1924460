/**
 * Chaos Mesh's naming conventions, and the owners of names that are not Chaos Mesh's. PURE.
 *
 * Sources (chaos-mesh at HEAD, chaos-tproxy v0.5.3; shared/notes/chaos-mesh.md):
 * - iptables (pkg/chaosdaemon/iptables_server.go, controllers/podnetworkchaos/iptable): CHAOS-INPUT / CHAOS-OUTPUT,
 *   per-experiment `INPUT/<x>` / `OUTPUT/<x>`, `TC-TABLES-<i>` (filtered tc); chaos-tproxy's mangle chains DIVERT
 *   and, in older builds, CHAOS_PROXY_PREROUTING / CHAOS_PROXY_OUTPUT.
 * - ipsets (controllers/podnetworkchaos/ipset, netutils/len.go CompressName(name, 27, "<type>_<role>")), and the
 *   `<name>old` sets FlushIPSets swaps in.
 * - tc (pkg/chaosdaemon/tc_server.go): the filtered layout's prio root has 3+N bands and the kernel's default
 *   priomap `1 2 2 2 1 2 0 0 1 1 1 1 1 1 1 1`. chaos-daemon installs no tc filter: its only classifiers are the
 *   TC-TABLES-<i> CLASSIFY rules. The controller (controllers/podnetworkchaos/controller.go Reconcile) always calls
 *   SetIptablesChains, whose initializeEnv creates CHAOS-INPUT and CHAOS-OUTPUT in the filter table
 *   (iptables_server.go), before SetTcs, and never deletes them: a namespace without them has never held Chaos
 *   Mesh's tc.
 * - Not Chaos Mesh's: the CNI bandwidth plugin (containernetworking/plugins plugins/meta/bandwidth) puts a root tbf
 *   (handle 1:) on the host side of each shaped pod's veth and on an ifb named `bwp` + 12 hex digits (sha512 of
 *   network name + container id, 15 characters), fed by a u32 mirred filter on the veth's ingress qdisc.
 * - HTTPChaos >= 2.2 (chaos-tproxy-controller src/proxy/net/bridge.rs NetEnv::new): a prefix of 13 characters of
 *   a v4 UUID (`xxxxxxxx-xxxx`), then `b1` (bridge in the pod), `v1` and `v4` (veths in the pod), `ns` (the
 *   proxy's named namespace under /run/netns), `b2` (bridge inside that namespace).
 */

import type { IptablesDump } from '../netns/state.js';

/** Chaos Mesh's role for a chain name, or null for everything else. */
export type ChaosChainRole = 'base' | 'experiment' | 'tc' | 'http';

const HTTP_CHAINS = new Set(['DIVERT', 'CHAOS_PROXY_PREROUTING', 'CHAOS_PROXY_OUTPUT']);

export function chaosChainRole(table: string, chain: string): ChaosChainRole | null {
  if (chain === 'CHAOS-INPUT' || chain === 'CHAOS-OUTPUT') return 'base';
  if (/^(?:INPUT|OUTPUT)\/\S+$/.test(chain)) return 'experiment';
  if (/^TC-TABLES-\d+$/.test(chain)) return 'tc';
  if (table === 'mangle' && HTTP_CHAINS.has(chain)) return 'http';
  return null;
}

const SET_TYPES = '(?:net|netport|set|net6|netport6|np6)';
const SET_ROLES = '(?:src|tgt|nesrc|netgt|basrc|batgt)';
const CHAOS_SET_NAMES = [
  // <type>_<experiment>_<role>
  new RegExp(`^${SET_TYPES}_.+_${SET_ROLES}(?:old)?$`),
  // <experiment>_<type>_<role>: CompressName(name, 27, "<type>_<role>") in chaos-mesh 2.x
  new RegExp(`^.+_${SET_TYPES}_${SET_ROLES}(?:old)?$`),
  // <5 chars>_<sha256 prefix>_<role>: releases before the typed sets
  new RegExp(`^[^_]{1,5}_[0-9a-f]{7,}_${SET_ROLES}(?:old)?$`),
];

/** True for ipset names Chaos Mesh creates (including the `<name>old` sets it swaps in). */
export function isChaosIpsetName(name: string): boolean {
  return CHAOS_SET_NAMES.some((re) => re.test(name));
}

/** A well-known owner of non-chaos chains. */
export interface ForeignOwner {
  pattern: RegExp;
  owner: string;
  /** The pattern as shown in findings. */
  shown: string;
}

export const FOREIGN_OWNERS: readonly ForeignOwner[] = [
  { pattern: /^KUBE-/, owner: 'Kubernetes', shown: 'KUBE-*' },
  { pattern: /^CNI-/, owner: 'CNI', shown: 'CNI-*' },
  { pattern: /^cali-/, owner: 'Calico', shown: 'cali-*' },
  { pattern: /^cilium|^CILIUM/, owner: 'Cilium', shown: 'CILIUM*' },
  { pattern: /^ISTIO_/, owner: 'Istio', shown: 'ISTIO_*' },
  { pattern: /^PROXY_INIT_|^LINKERD/, owner: 'Linkerd', shown: 'PROXY_INIT_*, LINKERD*' },
  { pattern: /^DOCKER/, owner: 'Docker', shown: 'DOCKER*' },
  { pattern: /^FLANNEL/, owner: 'flannel', shown: 'FLANNEL*' },
  { pattern: /^WEAVE/, owner: 'Weave', shown: 'WEAVE*' },
  { pattern: /^ANTREA/, owner: 'Antrea', shown: 'ANTREA*' },
];

export function foreignOwner(chain: string): ForeignOwner | null {
  return FOREIGN_OWNERS.find((o) => o.pattern.test(chain)) ?? null;
}

/** True when the dumps hold Chaos Mesh's base chains (CHAOS-INPUT / CHAOS-OUTPUT in a filter table), any backend. */
export function hasChaosBaseChains(dumps: readonly IptablesDump[]): boolean {
  return dumps.some((d) =>
    d.tables.some((t) => t.name === 'filter' && t.chains.some((c) => c.name === 'CHAOS-INPUT' || c.name === 'CHAOS-OUTPUT')),
  );
}

/** The CNI bandwidth plugin's ifb device name (getIfbDeviceName: `bwp` + sha512 hex, cut to 15 characters). */
export function isCniBandwidthIfb(iface: string): boolean {
  return /^bwp[0-9a-f]{12}$/.test(iface);
}

/** The kernel's (and iproute2's) default priomap, which Chaos Mesh's prio also uses. */
export const DEFAULT_PRIOMAP: readonly number[] = [1, 2, 2, 2, 1, 2, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1];

/** The three bands every prio has; Chaos Mesh's filtered layout adds one band per filtered netem/tbf. */
export const PRIO_DEFAULT_BANDS = 3;

/** chaos-tproxy's interface / namespace roles. */
export type TproxyRole = 'b1' | 'v1' | 'v4' | 'ns';

const TPROXY_NAME = /^([0-9a-f]{8}-[0-9a-f]{4})(b1|v1|v4|ns)$/;

/** `{prefix, role}` when `name` is one of chaos-tproxy's names (`3f2a9c1b-7e4db1` -> prefix `3f2a9c1b-7e4d`, b1). */
export function tproxyName(name: string): { prefix: string; role: TproxyRole } | null {
  const m = TPROXY_NAME.exec(name);
  return m === null ? null : { prefix: m[1]!, role: m[2] as TproxyRole };
}
