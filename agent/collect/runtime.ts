/**
 * The runtime collector: every runtime's status and pods (runtime/inventory.ts), then one sandbox per pod.
 *
 * A pod can be listed with several sandboxes: kubelet recreated its sandbox while the old NOTREADY one is still
 * listed, or a pod was deleted and recreated under the same name (a new uid). The metrics and the debug document
 * are keyed by namespace/name, so exactly one sandbox stands for the pod: the READY one whose network namespace
 * is resolved, then the one with the most running containers, then the first listed. The others are reported
 * apart (`stale`), never read and never allowed to hide the live one.
 */
import type { Inventory } from '../runtime/inventory.js';
import type { PodInfo } from '../runtime/types.js';
import type { StaleSandbox } from '../snapshot.js';
import type { Collector } from './collector.js';

function rank(p: PodInfo): number {
  const running = p.containers.filter((c) => c.state === 'CONTAINER_RUNNING').length;
  return (p.state === 'SANDBOX_READY' ? 1_000_000 : 0) + (p.netns ? 100_000 : 0) + Math.min(running, 99_999);
}

/** One sandbox per namespace/name (order of the input kept for the chosen ones), the rest as stale. */
export function choosePrimary(pods: readonly PodInfo[]): { primary: PodInfo[]; stale: StaleSandbox[] } {
  const best = new Map<string, PodInfo>();
  for (const p of pods) {
    const key = `${p.namespace}/${p.name}`;
    const prev = best.get(key);
    if (!prev || rank(p) > rank(prev)) best.set(key, p);
  }
  const chosen = new Set(best.values());
  const stale: StaleSandbox[] = pods
    .filter((p) => !chosen.has(p))
    .map((p) => ({ namespace: p.namespace, name: p.name, uid: p.uid, runtime: p.runtime, sandboxId: p.sandboxId, state: p.state, replacedBy: best.get(`${p.namespace}/${p.name}`)!.sandboxId }));
  return { primary: pods.filter((p) => chosen.has(p)), stale };
}

export function runtimeCollector(inventory: Inventory, filter?: (p: PodInfo) => boolean): Collector {
  return {
    name: 'runtime',
    async collect(draft) {
      const inv = await inventory.collect();
      draft.runtimes = inv.runtimes;
      draft.allPods = inv.pods;
      const { primary, stale } = choosePrimary(filter ? inv.pods.filter(filter) : inv.pods);
      draft.pods = primary;
      draft.stale = stale;
      if (inv.errors.length > 0) return { success: false, error: inv.errors.join('; ') };
      if (!inv.runtimes.some((s) => s.up)) return { success: false, error: 'no container runtime reachable' };
      return { success: true };
    },
  };
}

export function statsCollector(inventory: Inventory): Collector {
  return {
    name: 'stats',
    async collect(draft) {
      draft.containerStats = await inventory.containerStats();
    },
  };
}
