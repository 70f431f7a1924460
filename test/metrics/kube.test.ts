import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import type { InformerStatus } from '../../agent/intent/informer.js';
import { registerKubeMetrics } from '../../agent/metrics/kube.js';
import { CollectionFamilies } from '../../agent/metrics/families.js';
import { renderRegistry } from '../../agent/metrics/registry.js';
import type { Snapshot } from '../../agent/snapshot.js';
import { lintExposition, samplesOf, valueOf } from '../helpers/metrics-lint.js';
import { snapshot } from './fixtures.js';

function status(resource: string, s: Partial<InformerStatus>): InformerStatus {
  return {
    resource, synced: true, connected: true, lastSyncAt: 1_700_000_000_000, objects: 0, truncated: false, skipped: 0,
    lastError: null, lists: 1, watches: 1, failures: 0, ...s,
  };
}

async function text(snap: Snapshot): Promise<string> {
  const collection = new CollectionFamilies();
  registerKubeMetrics(collection, snap);
  return (await (await renderRegistry(new Registry(), { collection })).body('prometheus', false)).toString('utf8');
}

describe('Kubernetes API source metrics', () => {
  it('exports no chaos_daemon_kube_objects for a resource whose every list failed, a stale cache\'s count for one listed before', async () => {
    const resources = [
      status('podnetworkchaos', { objects: 4 }),
      // Every list refused (a 403): the empty cache knows nothing of the server.
      status('networkchaos', { synced: false, connected: false, lastSyncAt: null, lastError: 'networkchaos: HTTP 403 Forbidden', failures: 3 }),
      // Listed once, its watch and relists failing since: the cache is served stale, with what it holds.
      status('stresschaos', { connected: false, objects: 2, lastError: 'stresschaos: connect ECONNREFUSED', failures: 1 }),
    ];
    const t = await text(snapshot([], { kube: { up: false, syncAgeSeconds: 42, resources, from: 'test', server: 'https://k8s:6443' } }));
    expect(samplesOf(t, 'chaos_daemon_kube_objects').map((s) => [s.labels.resource, s.value])).toEqual([['podnetworkchaos', 4], ['stresschaos', 2]]);
    // The failure has its own series.
    expect(valueOf(t, 'chaos_daemon_kube_up', {})).toBe(0);
    expect(valueOf(t, 'chaos_daemon_kube_sync_age_seconds', {})).toBe(42);
    expect(lintExposition(t)).toEqual([]);
  });

  it('exports nothing of the source when it is off', async () => {
    expect((await text(snapshot([]))).trim()).toBe('');
  });
});
