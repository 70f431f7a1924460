/**
 * The human intent and drift lines (intent/format.ts) of pod entries joined with a real IntentView (attachIntent):
 * an intent that could not be listed is said to be not read, with the API's errors, and the drift line does not
 * repeat them; a listed intent with nothing for the pod says so.
 */
import { describe, expect, it } from 'vitest';
import { attachIntent } from '../../agent/intent/attach.js';
import { driftLines } from '../../agent/intent/format.js';
import type { IntentStatus } from '../../agent/intent/model.js';
import { IntentView } from '../../agent/intent/view.js';
import { emptyReadEntry } from '../commands/pod-entry.js';

const NOW = 1_800_000_000;
const EMPTY = { network: [], http: [], io: [], experiments: [] };

function linesWith(status: IntentStatus): string[] {
  const entry = emptyReadEntry('netlink');
  attachIntent([entry], new IntentView(EMPTY, status), undefined, NOW);
  return driftLines(entry);
}

describe('driftLines', () => {
  it('intent not listed: not read, with the errors once', () => {
    const errors = ['podnetworkchaos: list: connect ECONNREFUSED 127.0.0.1:1', 'networkchaos: list: HTTP 401: Unauthorized'];
    expect(linesWith({ state: 'unavailable', syncAgeSeconds: null, errors })).toEqual([
      `  intent (Kubernetes API): not read (${errors.join('; ')})`,
      '  drift: unknown (the Kubernetes API intent is not available)',
    ]);
    expect(linesWith({ state: 'unavailable', syncAgeSeconds: null, errors: [] })).toEqual([
      '  intent (Kubernetes API): not read (no reason given)',
      '  drift: unknown (the Kubernetes API intent is not available)',
    ]);
  });

  it('intent listed, nothing for the pod: said so, drift reconciled', () => {
    expect(linesWith({ state: 'synced', syncAgeSeconds: 0, errors: [] })).toEqual([
      '  intent (Kubernetes API, synced): nothing for this pod',
      '  drift: 0 leftover, 0 missing, 0 mismatch, 0 present',
    ]);
  });
});
