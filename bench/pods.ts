/**
 * The benchmark's pod set on the real containerd: pods of two containers created, brought to a corpus
 * (bench/inject.ts) and removed, SETUP_CONCURRENCY at a time, every failure reported.
 */
import { AgentError, errorMessage } from '../agent/errors.js';
import type { ContainerdHarness, TestPod } from '../test/helpers/containerd.js';
import { applyCorpus, chaosLayout, type CorpusName } from './inject.js';
import { mapLimit, summarize } from './measure.js';
import type { SetupResult } from './report.js';

export const CONTAINERS = ['app', 'sidecar'];
export const SETUP_CONCURRENCY = 8;
const NAMESPACE = 'bench';
/** Pod names stay unique across removals (bench-000, bench-001, ...). */
let podSerial = 0;

function failures(results: PromiseSettledResult<unknown>[]): string[] {
  return results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => errorMessage(r.reason));
}

/** Grow the pod set to `target` (runPod 8 at a time), then bring the new pods to `corpus`. */
export async function growPods(h: ContainerdHarness, pods: TestPod[], target: number, corpus: CorpusName, log: (msg: string) => void): Promise<SetupResult> {
  const count = target - pods.length;
  const perPod: number[] = [];
  const t0 = performance.now();
  const created = await mapLimit(Array.from({ length: count }, () => podSerial++), SETUP_CONCURRENCY, async (i) => {
    const s = performance.now();
    const pod = await h.runPod({ name: `bench-${String(i).padStart(3, '0')}`, namespace: NAMESPACE, containers: CONTAINERS });
    perPod.push(performance.now() - s);
    return pod;
  });
  const createSeconds = (performance.now() - t0) / 1000;
  const fresh: TestPod[] = [];
  for (const r of created) if (r.status === 'fulfilled') fresh.push(r.value);
  pods.push(...fresh);
  const failed = failures(created);
  if (failed.length) throw new AgentError('BENCH_SETUP', `${failed.length} of ${count} pods failed to start: ${failed.slice(0, 3).join('; ')}`);
  log(`+${count} pods in ${createSeconds.toFixed(1)} s; bringing them to the ${corpus} corpus`);
  const injectSeconds = await applyToAll(fresh, corpus);
  return { created: count, createSeconds, perPodMs: count > 0 ? summarize(perPod) : null, injectSeconds, concurrency: SETUP_CONCURRENCY };
}

/** Write `corpus` into every pod's namespace (8 at a time); seconds taken. */
export async function applyToAll(pods: TestPod[], corpus: CorpusName): Promise<number> {
  const layout = chaosLayout();
  const t0 = performance.now();
  const bad = failures(await mapLimit(pods, SETUP_CONCURRENCY, (p) => applyCorpus(p.netnsPath, corpus, layout)));
  if (bad.length) throw new AgentError('BENCH_SETUP', `the ${corpus} corpus failed in ${bad.length} pods: ${bad[0]}`);
  return (performance.now() - t0) / 1000;
}

/** Remove every pod (8 at a time). */
export async function removeAll(h: ContainerdHarness, pods: TestPod[]): Promise<void> {
  const bad = failures(await mapLimit(pods.splice(0), SETUP_CONCURRENCY, (p) => h.removePod(p.sandboxId)));
  if (bad.length) throw new AgentError('BENCH_SETUP', `${bad.length} pods could not be removed: ${bad[0]}`);
}
