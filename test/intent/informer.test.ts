/**
 * The agent's informer (client-node's CustomObjectsApi + Watch underneath) against the fake kube-apiserver
 * speaking the real list/watch protocol over HTTPS with a bearer token: list then watch, ADDED / MODIFIED /
 * DELETED applied, BOOKMARK advancing the resourceVersion, 410 Gone in a watch stream and on an expired continue
 * token (relist), 401 / 403 (never synced, error kept), the server killed and restarted (stale, then resumed
 * from the last resourceVersion), the bounded cache, periodic resync, an idle watch re-opened, a prompt stop; the
 * owner conditions of PodNetworkChaos entries (an absent NetworkChaos clocked from the first synced view, running
 * once created, absent anew once force-deleted) and the one-shot lists' order (NetworkChaos after PodNetworkChaos).
 */
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ResourceInformer, type KubeSourceSettings } from '../../agent/intent/informer.js';
import { intentSummary } from '../../agent/intent/format.js';
import { RESOURCES } from '../../agent/intent/resources.js';
import { KubeIntentSource, KUBE_DEFAULTS, listIntent } from '../../agent/intent/source.js';
import { silentLogger } from '../../agent/log.js';
import { FakeKubeApiServer } from '../helpers/fake-kube-apiserver.js';
import { experiment, partitionEntries, podNetworkChaos } from '../helpers/chaos-mesh-crds.js';

const PNC = RESOURCES.find((r) => r.plural === 'podnetworkchaos')!;
// Fast retries and bookmarks, but a request deadline a loaded CI machine cannot reach against this local server
// (a list cut by it would count as a failure, and tests assert `failures: 0`).
const FAST: KubeSourceSettings = {
  maxObjects: 100, pageSize: 50, requestTimeoutMs: 20_000, watchTimeoutSeconds: 30, resyncMs: 600_000, backoffMs: { initial: 50, max: 200 },
};

async function waitFor(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

let server: FakeKubeApiServer;
const running: { stop(): Promise<void> }[] = [];

function kubeConfig(token?: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(JSON.stringify(server.kubeconfig(token)));
  return kc;
}

function informer(settings: Partial<KubeSourceSettings> = {}, token?: string): ResourceInformer {
  const i = new ResourceInformer({ kc: kubeConfig(token), resource: PNC, log: silentLogger(), ...FAST, ...settings });
  running.push(i);
  i.start();
  return i;
}

function names(i: ResourceInformer): string[] {
  return i.objects().map((o) => `${o.value.namespace}/${o.value.name}`).sort();
}

beforeAll(async () => {
  server = await FakeKubeApiServer.start({ bookmarkIntervalMs: 100 });
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop()));
  server.onRequest = null;
  server.listDelayMs = 0;
  await server.restart();
  for (const p of ['podnetworkchaos', 'networkchaos']) server.forbid(p, false);
});

afterAll(async () => {
  await server?.stop();
});

describe('list and watch', () => {
  it('lists, then follows ADDED / MODIFIED / DELETED; the objects are normalised', async () => {
    server.create('podnetworkchaos', podNetworkChaos('lw', 'web', partitionEntries('lw', 'web-to-db', ['10.9.9.9'])));
    const i = informer();
    await waitFor('connected', () => i.status().connected);
    expect(names(i)).toEqual(['lw/web']);
    server.create('podnetworkchaos', podNetworkChaos('lw', 'db', {}));
    await waitFor('ADDED', () => names(i).includes('lw/db'));
    server.update('podnetworkchaos', podNetworkChaos('lw', 'db', { iptables: [{ name: 'INPUT/x', direction: 'input', source: 'lw/x' }] }));
    await waitFor('MODIFIED', () => i.objects().some((o) => o.type === 'network' && o.value.name === 'db' && o.value.chains.length === 1));
    const db = i.objects().find((o) => o.value.name === 'db')!;
    expect(db.type === 'network' && db.value.generation).toBe(2);
    server.remove('podnetworkchaos', 'lw', 'web');
    await waitFor('DELETED', () => !names(i).includes('lw/web'));
    const s = i.status();
    expect(s).toMatchObject({ synced: true, connected: true, lists: 1, failures: 0, lastError: null, truncated: false });
    const watch = server.requests.filter((r) => r.watch && r.path === '/apis/chaos-mesh.org/v1alpha1/podnetworkchaos').at(-1)!;
    expect(watch.query.allowWatchBookmarks).toBe('true');
    expect(Number(watch.query.timeoutSeconds)).toBeGreaterThanOrEqual(30);
    expect(Number(watch.query.timeoutSeconds)).toBeLessThanOrEqual(36);
    const list = server.requests.find((r) => !r.watch && r.path.endsWith('/podnetworkchaos'))!;
    expect(list.query.limit).toBe('50');
    server.remove('podnetworkchaos', 'lw', 'db');
  });

  it('BOOKMARK events advance the resourceVersion the next watch starts from', async () => {
    const i = informer();
    await waitFor('connected', () => i.status().connected);
    const listRv = Number(server.requests.filter((r) => !r.watch).at(-1)!.query.resourceVersion ?? 0);
    // Move the global resourceVersion with another resource; bookmarks carry it to this watch.
    server.create('networkchaos', experiment('lw', 'other', 'delay', []));
    const target = server.resourceVersion;
    const before = server.requests.length;
    // A bookmark carrying it written to the stream: the client reads it before the stream's end (no fixed sleep,
    // which a loaded machine can outlast before the first bookmark).
    await waitFor('a bookmark with the new resourceVersion', () => server.bookmarked('podnetworkchaos') >= target);
    server.endWatches();
    await waitFor('a new watch', () => server.requests.slice(before).some((r) => r.watch));
    const next = server.requests.slice(before).find((r) => r.watch)!;
    expect(Number(next.query.resourceVersion)).toBe(target);
    expect(target).toBeGreaterThan(listRv);
    expect(i.status().lists).toBe(1); // a closed stream is re-opened, not relisted
    server.remove('networkchaos', 'lw', 'other');
  });

  it('410 Gone in the watch stream (an ERROR event with a Status 410): relist, and the changes are there', async () => {
    const i = informer();
    await waitFor('connected', () => i.status().connected);
    server.compact(); // every open watch gets ERROR 410 and ends
    server.create('podnetworkchaos', podNetworkChaos('gone', 'a', {}));
    await waitFor('relist', () => i.status().lists === 2 && names(i).includes('gone/a') && i.status().connected);
    expect(i.status()).toMatchObject({ connected: true, failures: 0 });
    server.remove('podnetworkchaos', 'gone', 'a');
  });

  it('410 Gone on an expired continue token: the paged list starts again', async () => {
    for (const n of ['a', 'b', 'c']) server.create('podnetworkchaos', podNetworkChaos('page', n, {}));
    let compacted = false;
    server.onRequest = (rec) => {
      if (!compacted && rec.query.continue) {
        compacted = true;
        server.compact();
      }
    };
    const i = informer({ pageSize: 1 });
    await waitFor('connected', () => i.status().connected);
    expect(compacted).toBe(true);
    expect(server.requests.some((r) => r.query.continue && r.status === 410)).toBe(true);
    expect(names(i).filter((n) => n.startsWith('page/'))).toEqual(['page/a', 'page/b', 'page/c']);
    for (const n of ['a', 'b', 'c']) server.remove('podnetworkchaos', 'page', n);
  });
});

describe('failures', () => {
  it('401 without the right token: never synced, the error kept, retried with backoff', async () => {
    const i = informer({}, 'wrong-token');
    await waitFor('two failures', () => i.status().failures >= 2);
    expect(i.status()).toMatchObject({ synced: false, connected: false, lastSyncAt: null, objects: 0 });
    expect(i.status().lastError).toBe('podnetworkchaos: list: HTTP 401: Unauthorized');
    expect(server.requests.filter((r) => r.status === 401).length).toBeGreaterThanOrEqual(2);
  });

  it('403 for one resource makes the whole intent unavailable, with the reason', async () => {
    server.forbid('networkchaos');
    const source = new KubeIntentSource(kubeConfig(), { from: 'test', server: server.url }, silentLogger(), FAST);
    running.push(source);
    source.start();
    await waitFor('the other resources connected', () => source.health().resources.filter((r) => r.connected).length === RESOURCES.length - 1);
    await waitFor('the 403 recorded', () => source.health().resources.some((r) => r.lastError !== null));
    const h = source.health();
    expect(h.up).toBe(false);
    expect(h.syncAgeSeconds).toBeNull();
    const v = source.view();
    expect(v.status.state).toBe('unavailable');
    expect(v.status.errors).toEqual(['networkchaos: list: HTTP 403: networkchaos.chaos-mesh.org is forbidden: User cannot list resource "networkchaos" in API group "chaos-mesh.org" at the cluster scope']);
  });

  it('connected watches are 0 s old exactly, whatever time passes between the informers\' clocks and the source\'s', async () => {
    let t = 1_000_000;
    const clock = (): number => (t += 7); // every reading 7 ms later, as on a loaded machine
    const source = new KubeIntentSource(kubeConfig(), { from: 'test', server: server.url }, silentLogger(), FAST, clock);
    running.push(source);
    source.start();
    await waitFor('up', () => source.health().up);
    expect(source.health().syncAgeSeconds).toBe(0);
    expect(source.view().status.syncAgeSeconds).toBe(0);
  });

  it('the API server killed and restarted: stale while down, then resumed from the last resourceVersion', async () => {
    server.create('podnetworkchaos', podNetworkChaos('kill', 'before', {}));
    const source = new KubeIntentSource(kubeConfig(), { from: 'test', server: server.url }, silentLogger(), FAST);
    running.push(source);
    source.start();
    await waitFor('up', () => source.health().up);
    expect(source.view().status).toEqual({ state: 'synced', syncAgeSeconds: 0, errors: [] });
    await server.kill();
    await waitFor('down', () => !source.health().up);
    server.create('podnetworkchaos', podNetworkChaos('kill', 'during', {})); // written while the clients are cut off
    await new Promise((r) => setTimeout(r, 400));
    const down = source.view();
    expect(down.status.state).toBe('stale');
    expect(down.status.syncAgeSeconds).toBeGreaterThan(0.3);
    expect(down.pod('kill', 'before').network).not.toBeNull(); // the last cache is still served
    expect(down.pod('kill', 'during').network).toBeNull();
    const lists = source.health().resources.find((r) => r.resource === 'podnetworkchaos')!.lists;
    await server.restart();
    await waitFor('up again', () => source.health().up);
    await waitFor('the missed event replayed', () => source.view().pod('kill', 'during').network !== null);
    expect(source.health().resources.find((r) => r.resource === 'podnetworkchaos')!.lists).toBe(lists); // watch resumed, no relist
    expect(source.health().syncAgeSeconds).toBe(0);
    server.remove('podnetworkchaos', 'kill', 'before');
    server.remove('podnetworkchaos', 'kill', 'during');
  });
});

describe('bounds and timing', () => {
  it('the cache keeps at most maxObjects and says it is truncated', async () => {
    for (const n of ['a', 'b', 'c']) server.create('podnetworkchaos', podNetworkChaos('cap', n, {}));
    const i = informer({ maxObjects: 2 });
    await waitFor('connected', () => i.status().connected);
    expect(i.status()).toMatchObject({ objects: 2, truncated: true });
    // A source whose cache is truncated claims no drift (an object it dropped may be the intent of a pod).
    const source = new KubeIntentSource(kubeConfig(), { from: 'test', server: server.url }, silentLogger(), { ...FAST, maxObjects: 2 });
    running.push(source);
    source.start();
    await waitFor('listed', () => source.health().resources.every((r) => r.synced));
    expect(source.view().status).toMatchObject({ state: 'unavailable', errors: ['podnetworkchaos: more objects than the cache keeps (2)'], readInPart: true });
    server.create('podnetworkchaos', podNetworkChaos('cap', 'd', {}));
    await new Promise((r) => setTimeout(r, 200));
    expect(i.status().objects).toBe(2);
    for (const n of ['a', 'b', 'c', 'd']) server.remove('podnetworkchaos', 'cap', n);
  });

  it('one-shot: a list cut at the cap, or one resource refused, is intent read in part; every list refused, not read', async () => {
    for (const n of ['a', 'b', 'c']) server.create('podnetworkchaos', podNetworkChaos('cap', n, {}));
    const summary = async (settings = KUBE_DEFAULTS, token?: string): Promise<string> => {
      const view = (await listIntent(kubeConfig(token), { from: 'test', server: server.url }, { timeoutMs: 20_000, settings })).view();
      return intentSummary(view.status, view.pod('cap', 'elsewhere'));
    };
    expect(await summary({ ...FAST, maxObjects: 2 })).toBe('intent (Kubernetes API, read in part: podnetworkchaos: more objects than the cache keeps (2)): none of the part read is for this pod');
    server.forbid('iochaos');
    try {
      expect(await summary()).toMatch(/^intent \(Kubernetes API, read in part: iochaos: .*403.*\): none of the part read is for this pod$/);
    } finally {
      server.forbid('iochaos', false);
    }
    expect(await summary(KUBE_DEFAULTS, 'wrong-token')).toMatch(/^intent \(Kubernetes API\): not read \(podnetworkchaos: .*401.*\)$/);
    expect(await summary()).toBe('intent (Kubernetes API, synced): nothing for this pod');
    for (const n of ['a', 'b', 'c']) server.remove('podnetworkchaos', 'cap', n);
  });

  it('relists every resyncMs', async () => {
    const i = informer({ resyncMs: 300 });
    await waitFor('three lists', () => i.status().lists >= 3);
    expect(i.status().failures).toBe(0);
  });

  it('a watch that receives nothing for idleTimeoutMs is re-opened (a half-open connection cannot freeze it)', async () => {
    const quiet = await FakeKubeApiServer.start({ bookmarkIntervalMs: 60_000 });
    try {
      const kc = new KubeConfig();
      kc.loadFromString(JSON.stringify(quiet.kubeconfig()));
      const i = new ResourceInformer({ kc, resource: PNC, log: silentLogger(), ...FAST, idleTimeoutMs: 200 });
      running.push(i);
      i.start();
      await waitFor('three watches', () => i.status().watches >= 3);
      expect(i.status()).toMatchObject({ lists: 1, failures: 0 });
      await i.stop();
    } finally {
      await quiet.stop();
    }
  });

  it('stop() returns promptly from a backoff sleep and from an open watch', async () => {
    // Without the prompt stop, stop() would wait out the 120 s backoff, or the open watch (ended by the server
    // after 120 s at the earliest, idle-aborted after 180 s): a bound far below both, that scheduling cannot reach.
    const PROMPT_MS = 15_000;
    const failing = informer({ backoffMs: { initial: 120_000, max: 120_000 } }, 'wrong-token');
    await waitFor('a failure', () => failing.status().failures >= 1);
    let t0 = Date.now();
    await failing.stop();
    expect(Date.now() - t0).toBeLessThan(PROMPT_MS);
    const open = informer({ watchTimeoutSeconds: 120 });
    await waitFor('connected', () => open.status().connected);
    t0 = Date.now();
    await open.stop();
    expect(Date.now() - t0).toBeLessThan(PROMPT_MS);
    expect(open.status().connected).toBe(false);
  });
});

describe('owner conditions', () => {
  /** A `serve` source on the fake API server, its clock `now()`, once every resource is listed and watched. */
  async function serveSource(now: () => number): Promise<KubeIntentSource> {
    const source = new KubeIntentSource(kubeConfig(), { from: 'test', server: server.url }, silentLogger(), FAST, now);
    running.push(source);
    source.start();
    await waitFor('up', () => source.health().up);
    return source;
  }

  it('serve: an entry\'s NetworkChaos absent, then created, then force-deleted: its condition and since when the source saw it so', async () => {
    let t = 1_700_000_000_000;
    server.create('podnetworkchaos', podNetworkChaos('own', 'web', partitionEntries('own', 'part', ['10.9.9.9'])));
    const source = await serveSource(() => t);
    const owners = () => source.view().pod('own', 'web').owners;
    expect(owners()).toEqual([{ ref: 'own/part', condition: 'absent', since: 1_700_000_000 }]);
    t += 45_000;
    expect(owners()).toEqual([{ ref: 'own/part', condition: 'absent', since: 1_700_000_000 }]); // the clock keeps its start
    server.create('networkchaos', experiment('own', 'part', 'partition', [{ id: 'own/web' }]));
    await waitFor('running', () => owners()[0]?.condition === 'running');
    expect(owners()).toEqual([{ ref: 'own/part', condition: 'running', since: null }]);
    t += 10_000;
    // The dashboard's force delete: the finalizer dropped without recovery, the PodNetworkChaos entries kept.
    server.remove('networkchaos', 'own', 'part');
    await waitFor('absent again', () => owners()[0]?.condition === 'absent');
    expect(owners()).toEqual([{ ref: 'own/part', condition: 'absent', since: 1_700_000_055 }]);
    server.remove('podnetworkchaos', 'own', 'web');
  });

  it('serve: a PodHttpChaos rule\'s HTTPChaos absent, then created (a NetworkChaos of that name does not count), then force-deleted', async () => {
    let t = 1_700_000_000_000;
    server.create('podhttpchaos', { metadata: { namespace: 'own', name: 'web' }, spec: { rules: [{ source: 'own/abort', port: 80, target: 'Request', selector: {}, actions: { abort: true } }] } });
    server.create('networkchaos', experiment('own', 'abort', 'delay', [{ id: 'own/web' }]));
    const source = await serveSource(() => t);
    const owners = () => source.view().pod('own', 'web').httpOwners;
    expect(owners()).toEqual([{ ref: 'own/abort', condition: 'absent', since: 1_700_000_000 }]);
    t += 45_000;
    expect(owners()).toEqual([{ ref: 'own/abort', condition: 'absent', since: 1_700_000_000 }]);
    server.create('httpchaos', experiment('own', 'abort', 'abort', [{ id: 'own/web' }]));
    await waitFor('running', () => owners()?.[0]?.condition === 'running');
    t += 10_000;
    server.remove('httpchaos', 'own', 'abort');
    await waitFor('absent again', () => owners()?.[0]?.condition === 'absent');
    expect(owners()).toEqual([{ ref: 'own/abort', condition: 'absent', since: 1_700_000_055 }]);
    server.remove('podhttpchaos', 'own', 'web');
    server.remove('networkchaos', 'own', 'abort');
  });

  it('one-shot: NetworkChaos is listed once PodNetworkChaos has been answered (HTTPChaos, IOChaos once PodHttpChaos, PodIOChaos have); an absent owner has no since (no memory)', async () => {
    server.create('podnetworkchaos', podNetworkChaos('own', 'web', partitionEntries('own', 'part', ['10.9.9.9'])));
    server.create('podiochaos', { metadata: { namespace: 'own', name: 'web' }, spec: { volumeMountPath: '/data', actions: [{ type: 'latency', path: '', percent: 100, latency: '10ms', source: 'own/slow-io' }] } });
    server.listDelayMs = 300;
    const arrivals = new Map<string, number>();
    server.onRequest = (rec) => {
      const plural = rec.path.split('/').pop()!;
      if (!rec.watch && !arrivals.has(plural)) arrivals.set(plural, Date.now());
    };
    const src = await listIntent(kubeConfig(), { from: 'test', server: server.url }, { timeoutMs: 20_000 });
    expect(src.view().status.state).toBe('synced');
    expect(arrivals.size).toBe(RESOURCES.length);
    expect(arrivals.get('networkchaos')! - arrivals.get('podnetworkchaos')!).toBeGreaterThanOrEqual(295);
    expect(arrivals.get('httpchaos')! - arrivals.get('podhttpchaos')!).toBeGreaterThanOrEqual(295);
    expect(arrivals.get('iochaos')! - arrivals.get('podiochaos')!).toBeGreaterThanOrEqual(295);
    expect(src.view().pod('own', 'web').owners).toEqual([{ ref: 'own/part', condition: 'absent', since: null }]);
    expect(src.view().pod('own', 'web').ioOwners).toEqual([{ ref: 'own/slow-io', condition: 'absent', since: null }]);
    server.remove('podnetworkchaos', 'own', 'web');
    server.remove('podiochaos', 'own', 'web');
  });
});
