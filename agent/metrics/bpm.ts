/**
 * chaos-daemon's background process manager metrics, from the collection's shared /proc scan (agent/proc/bpm.ts):
 * - chaos_daemon_bpm_controlled_processes: live background processes with a bpm identifier (toda, tproxy) of the
 *   chaos-daemon running in chaos-daemon's own pod: Chaos Mesh's meaning (GetIdentifiers);
 * - chaos_daemon_bpm_processes{command}: its live background processes by tool, `command` from a closed set;
 * - chaos_daemon_bpm_controlled_process_total (counter, long-lived): background processes seen starting. Chaos
 *   Mesh counts every StartProcess; seen from /proc, a process that lived less than one interval is missed.
 */
import { Counter, type Registry } from 'prom-client';
import { BPM_COMMANDS, type BpmReport } from '../proc/bpm.js';
import { CACHED, gauge, type CollectionFamilies } from './families.js';

/** With no report (scan failed or disabled) nothing is registered: a 0 would look like "no processes". */
export function registerBpmMetrics(registry: CollectionFamilies, report: BpmReport | null): void {
  if (report === null) return;
  const controlled = gauge(registry, 'chaos_daemon_bpm_controlled_processes',
    `Live background processes with a bpm identifier (toda, tproxy) of chaos-daemon in its own pod, found in the /proc scan ${CACHED}`, []);
  const byCommand = gauge(registry, 'chaos_daemon_bpm_processes',
    `Live background processes of chaos-daemon in its own pod, by tool (toda, tproxy, stress-ng, memStress) ${CACHED}`, ['command']);
  controlled.set([], report.controlled);
  for (const command of BPM_COMMANDS) {
    const n = report.byCommand.get(command);
    if (n !== undefined) byCommand.set([command], n);
  }
}

/** Counts background processes the first time a collection sees them (keyed by pid and start time). */
export class BpmStartCounter {
  private readonly counter: Counter<never>;
  private seen = new Set<string>();

  constructor(registry: Registry) {
    this.counter = new Counter<never>({
      name: 'chaos_daemon_bpm_controlled_process_total',
      help: 'Background processes of chaos-daemon in its own pod (toda, tproxy, stress-ng, memStress) first seen by a collection since the agent started (one that lived less than one collection interval is missed)',
      labelNames: [],
      registers: [registry],
    });
  }

  observe(report: BpmReport | null): void {
    if (report === null) return; // an unread collection forgets nothing
    const now = new Set(report.background.map((b) => `${b.pid}:${b.startTicks}`));
    let fresh = 0;
    for (const k of now) if (!this.seen.has(k)) fresh++;
    this.seen = now;
    if (fresh > 0) this.counter.inc(fresh);
  }
}
