/**
 * The informer's watch request against an API server that accepts it and never answers (no headers: a hung
 * apiserver, a load balancer in front of a dead one), and against one that answers it with an HTTP error. What
 * the server sees is what matters: each request the informer gives up on must be closed, not abandoned (an
 * abandoned one keeps its socket open, one more per retry, and keeps the process alive after stop(): `serve`
 * sets its exit code and lets the event loop drain, so a pending request would keep it up until SIGKILL).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ResourceInformer, type KubeSourceSettings } from '../../agent/intent/informer.js';
import { RESOURCES } from '../../agent/intent/resources.js';
import { silentLogger } from '../../agent/log.js';
import { FakeKubeApiServer } from '../helpers/fake-kube-apiserver.js';
import { podNetworkChaos } from '../helpers/chaos-mesh-crds.js';
import { repoRoot } from '../helpers/repo.js';

const PNC = RESOURCES.find((r) => r.plural === 'podnetworkchaos')!;
const SETTINGS: KubeSourceSettings = {
  maxObjects: 100, pageSize: 50, requestTimeoutMs: 20_000, watchTimeoutSeconds: 30, resyncMs: 600_000, backoffMs: { initial: 50, max: 200 },
};

/** Wait until `cond` holds or `ms` pass, without failing: the caller asserts the values it then reads. */
async function settle(cond: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

let server: FakeKubeApiServer;
const running: ResourceInformer[] = [];

function informer(settings: Partial<KubeSourceSettings>): ResourceInformer {
  const kc = new KubeConfig();
  kc.loadFromString(JSON.stringify(server.kubeconfig()));
  const i = new ResourceInformer({ kc, resource: PNC, log: silentLogger(), ...SETTINGS, ...settings });
  running.push(i);
  i.start();
  return i;
}

const openHeld = (): number => server.held.filter((h) => h.open).length;

beforeAll(async () => {
  server = await FakeKubeApiServer.start({ bookmarkIntervalMs: 100 });
  server.create('podnetworkchaos', podNetworkChaos('hold', 'web', {}));
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop()));
  server.watchAnswer = null;
  server.held.length = 0;
});

afterAll(async () => {
  await server?.stop();
});

describe('a watch request the server never answers', () => {
  it('is closed at the request deadline, and the retries do not pile up open connections', async () => {
    server.watchAnswer = () => 'hold';
    // Short enough for four deadlines in a few seconds; a list cut by it on a loaded machine is only retried.
    const i = informer({ requestTimeoutMs: 500 });
    await settle(() => server.held.length >= 4);
    expect(server.held.length).toBeGreaterThanOrEqual(4);
    // Each retry starts after the previous request was aborted: at most the newest one is still open.
    await settle(() => openHeld() <= 1);
    const held = server.held.length;
    expect(openHeld()).toBeLessThanOrEqual(1);
    expect(server.held.slice(0, held - 1).filter((h) => h.open)).toEqual([]);
    expect(i.status()).toMatchObject({ synced: true, connected: false, objects: 1 });
    // Every retry resumes from the listed resourceVersion, with bookmarks and a server-side timeout.
    const listRv = server.requests.filter((r) => !r.watch && r.status === 200).at(-1)!;
    expect(listRv.path).toBe('/apis/chaos-mesh.org/v1alpha1/podnetworkchaos');
    for (const h of server.held) {
      expect(h.query).toMatchObject({ watch: 'true', allowWatchBookmarks: 'true', resourceVersion: String(server.resourceVersion) });
    }
  });

  it('stop() closes the pending request and resolves', async () => {
    server.watchAnswer = () => 'hold';
    // A deadline the test never reaches: only stop() can end this request.
    const i = informer({ requestTimeoutMs: 120_000 });
    await settle(() => server.held.length >= 1);
    expect(server.held.length).toBe(1);
    expect(openHeld()).toBe(1);
    await i.stop();
    await settle(() => openHeld() === 0);
    expect(openHeld()).toBe(0);
    expect(server.held.length).toBe(1); // stopped: no retry
    expect(i.status()).toMatchObject({ connected: false, watches: 1, failures: 0 });
  });

  it('a process whose only work is that request exits on its own after stop() (dist/, as serve runs it)', async () => {
    server.watchAnswer = () => 'hold';
    const dist = (rel: string): string => new URL(`../../dist/agent/${rel}`, import.meta.url).href;
    if (!existsSync(new URL(dist('intent/informer.js')))) throw new Error('dist/ missing: run `npm run build` first');
    // SIGTERM -> stop(), then nothing: the process ends when nothing is left open (what serve does).
    const script = `
      import { KubeConfig } from '@kubernetes/client-node';
      const { ResourceInformer } = await import(${JSON.stringify(dist('intent/informer.js'))});
      const { RESOURCES } = await import(${JSON.stringify(dist('intent/resources.js'))});
      const { silentLogger } = await import(${JSON.stringify(dist('log.js'))});
      const kc = new KubeConfig();
      kc.loadFromString(process.env.TEST_KUBECONFIG);
      const resource = RESOURCES.find((r) => r.plural === 'podnetworkchaos');
      const i = new ResourceInformer({ kc, resource, log: silentLogger(), ...JSON.parse(process.env.TEST_SETTINGS) });
      process.once('SIGTERM', () => void i.stop().then(() => process.stdout.write('stopped\\n')));
      i.start();
      process.stdout.write('started\\n');
    `;
    const env = { ...process.env, TEST_KUBECONFIG: JSON.stringify(server.kubeconfig()), TEST_SETTINGS: JSON.stringify({ ...SETTINGS, requestTimeoutMs: 120_000 }) };
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: repoRoot(), env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => (out += t));
    child.stderr.setEncoding('utf8').on('data', (t: string) => (err += t));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    // Not a timing assertion: a bound far above a prompt exit; reaching it means the process would not end by itself.
    const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
    try {
      await settle(() => server.held.length >= 1 || child.exitCode !== null);
      expect(server.held.length).toBe(1);
      child.kill('SIGTERM');
      const end = await exited;
      expect({ ...end, out, err }).toEqual({ code: 0, signal: null, out: 'started\nstopped\n', err: '' });
      await settle(() => openHeld() === 0);
      expect(openHeld()).toBe(0);
    } finally {
      clearTimeout(guard);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });

  it('once the server answers again, the watch opens and follows changes', async () => {
    let holds = 2;
    server.watchAnswer = () => (holds-- > 0 ? 'hold' : null);
    const i = informer({ requestTimeoutMs: 500 });
    await settle(() => i.status().connected);
    // (No count of lists or failures: a list cut by this short deadline on a loaded machine is a failure, retried.)
    expect(i.status()).toMatchObject({ connected: true, lastError: null });
    expect(server.held.length).toBe(2);
    expect(openHeld()).toBe(0);
    server.create('podnetworkchaos', podNetworkChaos('hold', 'db', {}));
    await settle(() => i.objects().length === 2);
    expect(i.objects().map((o) => o.value.name).sort()).toEqual(['db', 'web']);
    server.remove('podnetworkchaos', 'hold', 'db');
  });
});

describe('a watch request answered with an HTTP error', () => {
  it('410 Gone: relists at once, then watches', async () => {
    let gone = 1;
    server.watchAnswer = () => (gone-- > 0 ? { code: 410, reason: 'Expired', message: 'too old resource version' } : null);
    const i = informer({});
    await settle(() => i.status().connected);
    expect(i.status()).toMatchObject({ connected: true, lists: 2, failures: 1 });
    expect(server.requests.filter((r) => r.watch && r.status === 410).length).toBe(1);
  });

  it('500: the failure kept with the Status message, retried with backoff', async () => {
    server.watchAnswer = () => ({ code: 500, reason: 'InternalError', message: 'etcdserver: request timed out' });
    const i = informer({});
    await settle(() => i.status().failures >= 2);
    expect(i.status()).toMatchObject({ synced: true, connected: false, lists: 1 });
    expect(i.status().failures).toBeGreaterThanOrEqual(2);
    expect(i.status().lastError).toBe('podnetworkchaos: watch: HTTP 500: etcdserver: request timed out');
  });
});
