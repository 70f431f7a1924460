/**
 * What /proc says about one pod's faults that are not network state: chaos processes (IOChaos toda, HTTPChaos
 * tproxy, StressChaos stress-ng / memStress), IOChaos mounts, DNSChaos resolv.conf, JVMChaos Byteman, with the
 * completeness of each source so the fingerprint can say `unknown` when a source failed instead of `clean`.
 * Built by facts.ts; turned into findings by agent/chaos/processes.ts.
 */
import type { ChaosProcess } from './chaos-processes.js';
import type { DnsFact } from './dns.js';
import type { IoMountFact } from './io-mounts.js';
import type { JvmFact } from './jvm.js';
import type { OtherNetns } from './other-netns.js';

export type ProcSource = 'processes' | 'mounts' | 'dns' | 'jvm';
export const PROC_SOURCES: readonly ProcSource[] = ['processes', 'mounts', 'dns', 'jvm'];

/** One reason a source is incomplete on this pod: the pod's doing or state, never an agent failure. */
export interface ProcSourceError {
  /** A PodPathReason (`absolute-symlink`, `escape`, `too-many-links`, `timeout`...), or `truncated`, `vanished`, `scan`, `io`. */
  reason: string;
  message: string;
  /** The container concerned, when one. */
  container?: string;
}

export interface ProcSourceStatus {
  complete: boolean;
  errors: ProcSourceError[];
}

export interface ContainerIoMount extends IoMountFact {
  container: string;
  containerId: string;
}

export interface PodProcFacts {
  sandboxId: string;
  processes: ChaosProcess[];
  mounts: ContainerIoMount[];
  dns: DnsFact[];
  jvm: JvmFact[];
  sources: Record<ProcSource, ProcSourceStatus>;
  /**
   * Running containers whose process is in another network namespace than the pod's (other-netns.ts): not read, so
   * the pod's verdict is `unknown` unless something proves `active`. Absent or empty: none.
   */
  otherNetns?: OtherNetns[];
}

export function emptyPodProcFacts(sandboxId: string): PodProcFacts {
  const ok = (): ProcSourceStatus => ({ complete: true, errors: [] });
  return { sandboxId, processes: [], mounts: [], dns: [], jvm: [], sources: { processes: ok(), mounts: ok(), dns: ok(), jvm: ok() } };
}

export function markIncomplete(facts: PodProcFacts, source: ProcSource, error: ProcSourceError): void {
  facts.sources[source].complete = false;
  facts.sources[source].errors.push(error);
}
