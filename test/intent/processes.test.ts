/**
 * The process side's extension point (waiting for issue 11's process model): recorded tproxy / toda / stress
 * pids and start times against the pod's chaos processes.
 */
import { describe, expect, it } from 'vitest';
import type { PodIntent } from '../../agent/intent/model.js';
import { reconcileProcesses } from '../../agent/intent/processes.js';

const START = Date.parse('2026-11-29T08:00:00Z');

const intent: PodIntent = {
  network: null,
  http: { namespace: 'shop', name: 'web', rules: [{ source: 'shop/abort', port: 80, target: 'Request' }], pid: 777, startTime: START, generation: 1, observedGeneration: 1, failedMessage: null },
  io: { namespace: 'shop', name: 'web', volumeMountPath: '/data', container: 'app', actions: [{ type: 'latency', path: null, source: 'shop/slow-io' }], pid: 888, startTime: null, generation: 1, observedGeneration: 1, failedMessage: null },
  experiments: [{
    kind: 'StressChaos', namespace: 'load', name: 'burn', action: null, desiredPhase: 'Run', deleting: false, truncated: false, records: [],
    instances: [{ key: 'shop/web/app', uid: '999', memoryUid: null, startTime: '2026-11-29T08:00:00Z', memoryStartTime: null }],
  }],
  owners: [],
  networkPendingSince: null,
};

describe('reconcileProcesses', () => {
  it('says nothing until a process model is given', () => {
    expect(reconcileProcesses(intent, null)).toEqual([]);
  });

  it('pid + start time match: present; recorded but not running (or a recycled pid): missing; unrecorded: leftover', () => {
    const out = reconcileProcesses(intent, [
      { command: 'tproxy', pid: 777, startTimeMs: START + 500 },
      { command: 'toda', pid: 888, startTimeMs: 1 },
      { command: 'stress-ng', pid: 999, startTimeMs: START + 3_600_000 }, // same pid, another process
      { command: 'memStress', pid: 1234, startTimeMs: null },
    ]);
    // A running one gets its kind from the finding on it (reconcile.ts); a missing one has its command's.
    expect(out.map((e) => [e.state, e.name, e.where, e.owners, e.kinds])).toEqual([
      ['present', 'tproxy', 'pid 777', ['shop/abort'], []],
      ['present', 'toda', 'pid 888', ['shop/slow-io'], []], // no recorded start time: the pid decides
      ['missing', 'stress-ng', 'pid 999', ['load/burn'], ['stress']],
      ['leftover', 'stress-ng', 'pid 999', [], []],
      ['leftover', 'memStress', 'pid 1234', [], []],
    ]);
    expect(reconcileProcesses(intent, []).map((e) => [e.state, e.name, e.kinds])).toEqual([
      ['missing', 'tproxy', ['http']], ['missing', 'toda', ['io']], ['missing', 'stress-ng', ['stress']],
    ]);
    expect(out[2]!.detail).toBe('StressChaos instance shop/web/app records stress-ng pid 999, which is not running (or is another process)');
  });

  it('a StressChaos stopped or being deleted, its instances not cleared yet: a stress-ng not running is stale, with no kind', () => {
    for (const [o, why] of [[{ desiredPhase: 'Stop' }, 'is stopped'], [{ deleting: true }, 'is being deleted']] as const) {
      const stopped: PodIntent = { ...intent, experiments: intent.experiments.map((e) => ({ ...e, ...o })) };
      const e = reconcileProcesses(stopped, []).find((x) => x.name === 'stress-ng')!;
      expect([e.state, e.kinds]).toEqual(['stale', []]);
      expect(e.detail).toBe(`StressChaos instance shop/web/app records stress-ng pid 999, which is not running (or is another process); StressChaos load/burn ${why}: not drift`);
      // Still running: present, as before (its finding names it).
      expect(reconcileProcesses(stopped, [{ command: 'stress-ng', pid: 999, startTimeMs: Date.parse('2026-11-29T08:00:00Z') }]).find((x) => x.name === 'stress-ng')!.state).toBe('present');
    }
  });
});
