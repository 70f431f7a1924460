/**
 * The runtime collector: every runtime's status and pods (runtime/inventory.ts), then one sandbox per pod.
 *
 * A pod can be listed with several sandboxes: kubelet recreated its sandbox while the old NOTREADY one is still
 * listed, or a pod was deleted and recreated under the same name (a new uid). The metrics and the debug document
 * are keyed by namespace/name, so exactly one sandbox stands for the pod: the READY one whose network namespace
 * is resolved, then the one with the most running containers, then the first listed. The others are reported
 * apart (`stale`), never read and never allowed to hide the live one.
 */
import { AgentError } from '../errors.js';
import type { Inventory } from '../runtime/inventory.js';
import type { PodInfo } from '../runtime/types.js';
import type { StaleSandbox } from '../snapshot.js';
import type { Collector, CollectorOutcome } from './collector.js';
import type { Draft } from './draft.js';

function rank(p: PodInfo): number {
  let running = 0;
  for (let i = 0; i < p.containers.length; i++) if (p.containers[i]!.state === 'CONTAINER_RUNNING') running++;
  return (p.state === 'SANDBOX_READY' ? 1_000_000 : 0) + (p.netns ? 100_000 : 0) + Math.min(running, 99_999);
}

function addTo(this: Set<PodInfo>, p: PodInfo): void {
  this.add(p);
}

/** One sandbox per namespace/name (order of the input kept for the chosen ones), the rest as stale. */
export function choosePrimary(pods: readonly PodInfo[]): { primary: PodInfo[]; stale: StaleSandbox[] } {
  // Indexed loops: once per collection, unoptimised, a for-of allocates an iterator result per pod.
  const best = new Map<string, PodInfo>();
  for (let i = 0; i < pods.length; i++) {
    const p = pods[i]!;
    const key = `${p.namespace}/${p.name}`;
    const prev = best.get(key);
    if (!prev || rank(p) > rank(prev)) best.set(key, p);
  }
  const chosen = new Set<PodInfo>();
  best.forEach(addTo, chosen);
  const stale: StaleSandbox[] = [];
  const primary: PodInfo[] = [];
  for (let i = 0; i < pods.length; i++) {
    const p = pods[i]!;
    if (chosen.has(p)) primary.push(p);
    else stale.push({ namespace: p.namespace, name: p.name, uid: p.uid, runtime: p.runtime, sandboxId: p.sandboxId, state: p.state, replacedBy: best.get(`${p.namespace}/${p.name}`)!.sandboxId });
  }
  return { primary, stale };
}

/**
 * `filter` (inspect NS/POD, diff): the pods reported. Only they are resolved (their PIDs and netns: per-pod runtime
 * calls); the others are listed unresolved, and `draft.resolveAll` resolves them if the proc collector's placement
 * turns out to need them (proc/placement-scope.ts).
 */
export function runtimeCollector(inventory: Inventory, filter?: (p: Pick<PodInfo, 'namespace' | 'name'>) => boolean): Collector {
  return new RuntimeCollector(inventory, filter);
}

/** A class: its collect() is one function for the process's life, not a closure per collection (collect/netns.ts readGroup). */
class RuntimeCollector implements Collector {
  readonly name = 'runtime';
  constructor(private readonly inventory: Inventory, private readonly filter?: (p: Pick<PodInfo, 'namespace' | 'name'>) => boolean) {}

  async collect(draft: Draft): Promise<CollectorOutcome> {
    const { inventory, filter } = this;
    const inv = await inventory.collect(filter ? { resolve: filter } : {});
    draft.runtimes = inv.runtimes;
    draft.allPods = inv.pods;
    if (inv.pods.some(unresolvedByRequest)) {
      draft.resolveAll = async () => {
        const all = await inventory.collect();
        if (all.errors.length > 0) throw new AgentError('RUNTIME_LIST', all.errors.join('; '));
        if (!all.runtimes.some(isUp)) throw new AgentError('RUNTIME_LIST', 'no container runtime reachable');
        return all.pods;
      };
    }
    const { primary, stale } = choosePrimary(filter ? inv.pods.filter(filter) : inv.pods);
    draft.pods = primary;
    draft.stale = stale;
    if (inv.errors.length > 0) return { success: false, error: inv.errors.join('; ') };
    if (!inv.runtimes.some(isUp)) return { success: false, error: 'no container runtime reachable' };
    return { success: true };
  }
}

function unresolvedByRequest(p: PodInfo): boolean {
  return p.unresolvedByRequest === true;
}

function isUp(s: { up: boolean }): boolean {
  return s.up;
}
