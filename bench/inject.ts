/**
 * Chaos-Mesh-style state in a pod's network namespace, as chaos-daemon leaves it after a NetworkChaos partition
 * (direction both) and a bandwidth action on the same pod (see /work/shared/notes/chaos-mesh.md and
 * test/helpers/chaos-mesh.ts for the upstream sequences and names):
 * - three ipsets named by the controller (`net_<x>` hash:net with CIDRs, `netport_<x>` hash:net,port with
 *   CIDR,proto:port members, `set_<x>` list:set of the other two);
 * - in the legacy filter table (chaos-daemon's image forces iptables-legacy): CHAOS-INPUT and CHAOS-OUTPUT
 *   jumped to from INPUT/OUTPUT, the experiment's `INPUT/<x>` and `OUTPUT/<x>` chains jumped to from them, each
 *   with a DROP rule matching `set_<x>` (src for INPUT, dst for OUTPUT) on eth0;
 * - a tbf root qdisc (handle 1:) on eth0.
 * chaos-daemon reaches this state with ~50 commands per pod (create `<set>old`, add members one by one, rename;
 * `-N`/`-F`/`-S`/`-A` per chain); the bench writes the same end state with three restores per pod (ipset
 * restore, iptables-legacy-restore --noflush, tc), so that preparing 110 pods takes seconds, not minutes.
 *
 * The other corpora of issue 9: `clean` (a pod as its CNI left it: nothing written) and `mesh` (a service-mesh
 * sidecar's nat rules, as Istio's istio-init writes them in REDIRECT mode, IPv4 and IPv6: ISTIO_INBOUND,
 * ISTIO_IN_REDIRECT, ISTIO_OUTPUT, ISTIO_REDIRECT with REDIRECT targets, owner matches and RETURNs; legacy
 * backend, so that chaos-daemon's iptables-legacy-save reads the same rules the agent reads).
 */
import { execa } from 'execa';
import { AgentError } from '../agent/errors.js';
import { validateNetnsPath } from '../agent/netns/read.js';
import { chainName, ipsetName } from '../test/helpers/chaos-mesh.js';

/** One NetworkChaos experiment targeting every bench pod (as a real experiment with a label selector would). */
export const EXPERIMENT = 'bench-partition-experiment';
/** Members of each of the net_ and netport_ sets. */
export const MEMBERS_PER_SET = 20;
const CHILD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const TIMEOUT_MS = 30_000;
const MAX_OUTPUT = 1 << 20;

export interface ChaosLayout {
  sets: { net: string; netport: string; set: string };
  chains: { input: string; output: string };
  /** ipset restore input. */
  ipsetRestore: string;
  /** iptables-legacy-restore --noflush input. */
  iptablesRestore: string;
  /** tc arguments of the root tbf. */
  tcArgs: string[];
}

/** The state every bench pod receives (identical names in every pod, as one experiment produces). */
export function chaosLayout(device = 'eth0'): ChaosLayout {
  const net = ipsetName(EXPERIMENT, 'net_tgt');
  const netport = ipsetName(EXPERIMENT, 'netport_tgt');
  const set = ipsetName(EXPERIMENT, 'set_tgt');
  const input = chainName('INPUT', EXPERIMENT);
  const output = chainName('OUTPUT', EXPERIMENT);
  const ipset: string[] = [
    `create ${net} hash:net family inet hashsize 1024 maxelem 65536`,
    ...Array.from({ length: MEMBERS_PER_SET }, (_, k) => `add ${net} 10.200.${k}.0/24`),
    `create ${netport} hash:net,port family inet hashsize 1024 maxelem 65536`,
    ...Array.from({ length: MEMBERS_PER_SET }, (_, k) => `add ${netport} 10.201.${k}.0/24,tcp:${8000 + k}`),
    `create ${set} list:set size 8`,
    `add ${set} ${net}`,
    `add ${set} ${netport}`,
  ];
  const ipt: string[] = [
    '*filter',
    ':CHAOS-INPUT - [0:0]',
    ':CHAOS-OUTPUT - [0:0]',
    `:${input} - [0:0]`,
    `:${output} - [0:0]`,
    '-A INPUT -j CHAOS-INPUT',
    '-A OUTPUT -j CHAOS-OUTPUT',
    `-A CHAOS-INPUT -j ${input}`,
    `-A CHAOS-OUTPUT -j ${output}`,
    `-A ${input} -i ${device} -m set --match-set ${set} src -j DROP`,
    `-A ${output} -o ${device} -m set --match-set ${set} dst -j DROP`,
    'COMMIT',
  ];
  return {
    sets: { net, netport, set },
    chains: { input, output },
    ipsetRestore: `${ipset.join('\n')}\n`,
    iptablesRestore: `${ipt.join('\n')}\n`,
    tcArgs: ['qdisc', 'add', 'dev', device, 'root', 'handle', '1:', 'tbf', 'rate', '1mbit', 'burst', '32kb', 'limit', '65536'],
  };
}

async function inNetns(netnsPath: string, argv: string[], input?: string): Promise<void> {
  const r = await execa('nsenter', [`--net=${netnsPath}`, '--', ...argv], {
    shell: false,
    env: { PATH: CHILD_PATH, LC_ALL: 'C' },
    extendEnv: false,
    ...(input !== undefined ? { input } : { stdin: 'ignore' as const }),
    timeout: TIMEOUT_MS,
    killSignal: 'SIGKILL',
    maxBuffer: MAX_OUTPUT,
    reject: false,
  });
  if (r.failed) {
    throw new AgentError('BENCH_INJECT', `${argv[0]} in ${netnsPath} failed (${r.timedOut ? 'timeout' : `exit ${r.exitCode ?? r.signal}`}): ${String(r.stderr).trim().slice(0, 300)}`, { cause: r });
  }
}

/** Put the layout into one namespace: 3 spawns (sets first: the rules reference them). */
export async function injectChaos(netnsPath: string, layout: ChaosLayout = chaosLayout()): Promise<void> {
  const path = validateNetnsPath(netnsPath);
  await inNetns(path, ['ipset', 'restore'], layout.ipsetRestore);
  await inNetns(path, ['iptables-legacy-restore', '--noflush'], layout.iptablesRestore);
  await inNetns(path, ['tc', ...layout.tcArgs]);
}

/** What a pod's namespace holds in each corpus. */
export type CorpusName = 'chaos' | 'clean' | 'mesh';
export const CORPORA: readonly CorpusName[] = ['chaos', 'clean', 'mesh'];

/** Istio's nat rules in REDIRECT mode (istio-iptables with the default ports and proxy UID/GID 1337). */
function istioNat(family: 'ipv4' | 'ipv6'): string {
  const [lo6, local, self] = family === 'ipv4' ? ['127.0.0.6/32', '127.0.0.1/32', '127.0.0.1/32'] : ['::6/128', '::1/128', '::1/128'];
  return [
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':INPUT ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':POSTROUTING ACCEPT [0:0]',
    ':ISTIO_INBOUND - [0:0]',
    ':ISTIO_IN_REDIRECT - [0:0]',
    ':ISTIO_OUTPUT - [0:0]',
    ':ISTIO_REDIRECT - [0:0]',
    '-A PREROUTING -p tcp -j ISTIO_INBOUND',
    '-A OUTPUT -p tcp -j ISTIO_OUTPUT',
    '-A ISTIO_INBOUND -p tcp -m tcp --dport 15008 -j RETURN',
    '-A ISTIO_INBOUND -p tcp -m tcp --dport 15090 -j RETURN',
    '-A ISTIO_INBOUND -p tcp -m tcp --dport 15021 -j RETURN',
    '-A ISTIO_INBOUND -p tcp -m tcp --dport 15020 -j RETURN',
    '-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT',
    '-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006',
    `-A ISTIO_OUTPUT -s ${lo6} -o lo -j RETURN`,
    `-A ISTIO_OUTPUT ! -d ${local} -o lo -p tcp -m tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT`,
    '-A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN',
    '-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN',
    `-A ISTIO_OUTPUT ! -d ${local} -o lo -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT`,
    '-A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN',
    '-A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN',
    `-A ISTIO_OUTPUT -d ${self} -j RETURN`,
    '-A ISTIO_OUTPUT -j ISTIO_REDIRECT',
    '-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001',
    'COMMIT',
    '',
  ].join('\n');
}

/** IPv4 nat rules of the mesh corpus (what chaos-daemon's iptables-legacy-save sees of it). */
export const MESH_RULES_IPV4 = istioNat('ipv4').split('\n').filter((l) => l.startsWith('-A ')).length;

/** Put the mesh corpus into one namespace: 2 spawns. */
export async function injectMesh(netnsPath: string): Promise<void> {
  const path = validateNetnsPath(netnsPath);
  await inNetns(path, ['iptables-legacy-restore', '--noflush'], istioNat('ipv4'));
  await inNetns(path, ['ip6tables-legacy-restore', '--noflush'], istioNat('ipv6'));
}

/** Bring a fresh pod's namespace to `corpus` (clean: nothing to do). */
export async function applyCorpus(netnsPath: string, corpus: CorpusName, layout: ChaosLayout = chaosLayout()): Promise<void> {
  if (corpus === 'chaos') await injectChaos(netnsPath, layout);
  else if (corpus === 'mesh') await injectMesh(netnsPath);
  else validateNetnsPath(netnsPath);
}
