/**
 * `chaos-node-agent pods [--json]`: pods of every reachable runtime (deduped across endpoints), sorted by
 * namespace/name, with their sandbox PID and network namespace. Exit 0 when at least one runtime answers
 * (listing failures of other runtimes go to stderr), 1 when none does.
 */
import type { Config } from '../config.js';
import { Inventory, sortPods, unreachableMessage } from '../runtime/inventory.js';
import type { PodInfo } from '../runtime/types.js';
import type { CommandIo } from './io.js';
import { formatTable } from './runtimes.js';

/** The documented JSON shape, keys in a fixed order; `reason` only on unresolved pods. */
export function podJson(p: PodInfo): Record<string, unknown> {
  return {
    namespace: p.namespace,
    name: p.name,
    uid: p.uid,
    runtime: p.runtime,
    endpoint: p.endpoint,
    sandboxId: p.sandboxId,
    state: p.state,
    pid: p.pid,
    hostNetwork: p.hostNetwork,
    netns: p.netns ? { inode: p.netns.inode, path: p.netns.path } : null,
    ...(p.reason !== undefined ? { reason: p.reason } : {}),
    containers: p.containers.map((c) => ({ id: c.id, name: c.name, state: c.state, pid: c.pid })),
  };
}

export function podsTable(pods: PodInfo[]): string {
  return formatTable([
    ['NAMESPACE', 'NAME', 'RUNTIME', 'STATE', 'PID', 'NETNS', 'CONTAINERS', 'SANDBOX', 'NOTE'],
    ...pods.map((p) => [
      p.namespace || '-',
      p.name,
      p.runtime,
      p.state.replace(/^SANDBOX_/, ''),
      p.pid === null ? '-' : String(p.pid),
      p.netns ? String(p.netns.inode) : '-',
      String(p.containers.length),
      p.sandboxId.slice(0, 13),
      [p.hostNetwork ? 'hostNetwork' : '', p.netns ? '' : (p.reason ?? 'unresolved')].filter(Boolean).join('; '),
    ]),
  ]);
}

export async function run(cfg: Config, io: CommandIo): Promise<number> {
  const inventory = new Inventory(cfg, { log: io.log });
  try {
    const result = await inventory.collect();
    if (!result.runtimes.some((s) => s.up)) {
      io.err(`chaos-node-agent pods: ${unreachableMessage(result.runtimes)}`);
      return 1;
    }
    for (const e of result.errors) io.err(`chaos-node-agent pods: ${e}\n`);
    const pods = sortPods(result.pods);
    io.out(cfg.json ? JSON.stringify({ pods: pods.map(podJson) }, null, 2) + '\n' : podsTable(pods));
    return 0;
  } finally {
    inventory.close();
  }
}
