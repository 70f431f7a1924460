/**
 * The human intent and drift lines (intent/format.ts) of pod entries joined with a real IntentView (attachIntent):
 * an intent that could not be listed is said to be not read, with the API's errors, and the drift line does not
 * repeat them; one read in part (a list cut at the cache's cap) says so, and claims nothing for the pod; a listed
 * intent with nothing for the pod says so. The summary counts in words (1 chain, 2 ipsets).
 */
import { describe, expect, it } from 'vitest';
import { attachIntent } from '../../agent/intent/attach.js';
import { driftLines, driftUnknownLine, intentSummary } from '../../agent/intent/format.js';
import type { IntentStatus } from '../../agent/intent/model.js';
import { normalisePodHttpChaos, normalisePodIoChaos, normalisePodNetworkChaos } from '../../agent/intent/normalise.js';
import { IntentView } from '../../agent/intent/view.js';
import { emptyReadEntry } from '../commands/pod-entry.js';
import { partitionEntries, podNetworkChaos } from '../helpers/chaos-mesh-crds.js';

const NOW = 1_800_000_000;
const EMPTY = { network: [], http: [], io: [], experiments: [] };
const SYNCED: IntentStatus = { state: 'synced', syncAgeSeconds: 0, errors: [] };

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

  it('the drift line leaves out the API errors whatever their text (an empty one, the reason\'s own words); without the intent line it gives them', () => {
    const odd = 'iochaos: the Kubernetes API intent is not available ($& (x))';
    for (const errors of [[''], [odd], [odd, '']]) {
      expect(linesWith({ state: 'unavailable', syncAgeSeconds: null, errors })[1]).toBe('  drift: unknown (the Kubernetes API intent is not available)');
    }
    const entry = emptyReadEntry('netlink');
    attachIntent([entry], new IntentView(EMPTY, { state: 'unavailable', syncAgeSeconds: null, errors: [odd] }), undefined, NOW);
    expect(driftUnknownLine(entry.drift!, undefined)).toBe(`drift: unknown (the Kubernetes API intent is not available (${odd}))`);
  });

  it('intent read in part (a list cut at the cache\'s cap): said so, and the pod is told neither "not read" nor "nothing for this pod"', () => {
    const errors = ['podnetworkchaos: more objects than the cache keeps (5000)'];
    expect(linesWith({ state: 'unavailable', syncAgeSeconds: null, errors, readInPart: true })).toEqual([
      '  intent (Kubernetes API, read in part: podnetworkchaos: more objects than the cache keeps (5000)): none of the part read is for this pod',
      '  drift: unknown (the Kubernetes API intent is not available)',
    ]);
  });

  it('intent listed, nothing for the pod: said so, drift reconciled', () => {
    expect(linesWith(SYNCED)).toEqual([
      '  intent (Kubernetes API, synced): nothing for this pod',
      '  drift: 0 leftover, 0 missing, 0 mismatch, 0 present',
    ]);
  });
});

describe('intentSummary', () => {
  it('counts in words: 1 chain, 1 rule, 1 action; 0 and 3 in the plural', () => {
    const network = normalisePodNetworkChaos(podNetworkChaos('shop', 'web', partitionEntries('shop', 'web-part', ['10.9.9.9']), {}))!;
    const http = normalisePodHttpChaos({ metadata: { namespace: 'shop', name: 'web' }, spec: { rules: [{ source: 'shop/abort', port: 80, target: 'Request' }] } })!;
    const io = normalisePodIoChaos({ metadata: { namespace: 'shop', name: 'web' }, spec: { actions: [{ type: 'latency', path: '/data', source: 'shop/slow' }] }, status: { pid: 7 } })!;
    const pod = new IntentView({ ...EMPTY, network: [network], http: [http], io: [io] }, SYNCED).pod('shop', 'web');
    expect(intentSummary(SYNCED, pod)).toBe('intent (Kubernetes API, synced): PodNetworkChaos shop/web: 1 chain, 3 ipsets, 0 tcs; ' +
      'PodHttpChaos: 1 rule; PodIOChaos: 1 action, toda pid 7; NetworkChaos shop/web-part: absent; HTTPChaos shop/abort: absent; IOChaos shop/slow: absent');
  });
});
