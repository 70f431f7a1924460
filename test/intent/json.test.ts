/**
 * The JSON of an entry's drift (diff --json, inspect --json, /debug/pods: intent/json.ts driftJson) is a contract:
 * an intent the Kubernetes API did not give in full makes `reason` the sentence with the API's errors in
 * parentheses, byte for byte, whatever the text lines leave out.
 */
import { describe, expect, it } from 'vitest';
import { diffJson } from '../../agent/commands/diff.js';
import { attachIntent } from '../../agent/intent/attach.js';
import type { IntentStatus } from '../../agent/intent/model.js';
import { IntentView } from '../../agent/intent/view.js';
import { emptyReadEntry } from '../commands/pod-entry.js';

const NOW = 1_800_000_000;
const EMPTY = { network: [], http: [], io: [], experiments: [] };

function driftJsonWith(status: IntentStatus): string {
  const entry = emptyReadEntry('netlink');
  attachIntent([entry], new IntentView(EMPTY, status), undefined, NOW);
  return JSON.stringify(diffJson(entry, null).drift);
}

const COUNTS = '"counts":{"present":0,"missing":0,"leftover":0,"mismatch":0,"stale":0,"pending":0,"failed":0},"entries":[],"findings":[]';

describe('drift JSON of an intent not available', () => {
  it('reason: the sentence, then the API errors in parentheses, joined by "; "', () => {
    const errors = ['podnetworkchaos: list: connect ECONNREFUSED 127.0.0.1:1', 'networkchaos: more objects than the cache keeps (5000)'];
    expect(driftJsonWith({ state: 'unavailable', syncAgeSeconds: null, errors })).toBe(
      '{"status":"unknown","reason":"the Kubernetes API intent is not available (podnetworkchaos: list: connect ECONNREFUSED 127.0.0.1:1; ' +
      `networkchaos: more objects than the cache keeps (5000))",${COUNTS}}`);
  });

  it('no errors: the sentence alone; an error text with the sentence\'s own words and parentheses, as it is', () => {
    expect(driftJsonWith({ state: 'unavailable', syncAgeSeconds: null, errors: [] })).toBe(
      `{"status":"unknown","reason":"the Kubernetes API intent is not available",${COUNTS}}`);
    const odd = 'iochaos: the Kubernetes API intent is not available ($& (x))';
    expect(driftJsonWith({ state: 'unavailable', syncAgeSeconds: null, errors: [odd, ''] })).toBe(
      `{"status":"unknown","reason":"the Kubernetes API intent is not available (${odd}; )",${COUNTS}}`);
  });

  it('a stale intent: the reason has no errors to carry', () => {
    expect(driftJsonWith({ state: 'stale', syncAgeSeconds: 301, errors: ['podnetworkchaos: watch: socket hang up'] })).toBe(
      `{"status":"unknown","reason":"the Kubernetes API intent is 301 s old (more than 300 s)",${COUNTS}}`);
  });
});
