/**
 * `--kube auto|on|off` and `--kubeconfig`: where the credentials come from (flag, KUBECONFIG, in-cluster service
 * account, ~/.kube/config), what `auto` does without any (off, the agent unchanged), that `on` requires them, and
 * that each kind of credential really reaches the (fake) API server through client-node.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeConfigError, kubeOffReason, resolveKube, SERVICEACCOUNT_DIR } from '../../agent/intent/kube-config.js';
import { listIntent } from '../../agent/intent/source.js';
import { FakeKubeApiServer } from '../helpers/fake-kube-apiserver.js';

let server: FakeKubeApiServer;
let dir: string;
let good: string;

beforeAll(async () => {
  server = await FakeKubeApiServer.start();
  dir = await mkdtemp(join(tmpdir(), 'cna-kubeconfig-'));
  good = await server.writeKubeconfig(join(dir, 'good.json'));
  await writeFile(join(dir, 'broken.yaml'), 'clusters: [this is: not: valid', 'utf8');
});

afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('resolveKube', () => {
  it('off never looks; auto without credentials is off and says why', async () => {
    expect(await resolveKube({ mode: 'off', kubeconfig: good, env: { KUBECONFIG: good } })).toEqual({ enabled: false, reason: '--kube off' });
    expect(await resolveKube({ mode: 'auto', kubeconfig: null, env: { HOME: dir } })).toEqual({
      enabled: false,
      reason: 'no Kubernetes credentials (no --kubeconfig, KUBECONFIG, in-cluster service account or ~/.kube/config)',
    });
  });

  it('on without credentials is an error, before anything is loaded', async () => {
    expect(() => kubeOffReason({ mode: 'on', kubeconfig: null, env: {} })).toThrow(KubeConfigError);
    await expect(resolveKube({ mode: 'on', kubeconfig: null, env: {} })).rejects.toThrow(/^--kube on: no Kubernetes credentials/);
    expect(kubeOffReason({ mode: 'auto', kubeconfig: null, env: { KUBECONFIG: good } })).toBeNull();
  });

  it('--kubeconfig first, then the first existing KUBECONFIG file, then ~/.kube/config', async () => {
    const r1 = await resolveKube({ mode: 'auto', kubeconfig: good, env: { KUBECONFIG: join(dir, 'broken.yaml') } });
    expect(r1.enabled && r1.from).toBe(`--kubeconfig ${good}`);
    const r2 = await resolveKube({ mode: 'auto', kubeconfig: null, env: { KUBECONFIG: `${join(dir, 'absent')}:${good}` } });
    expect(r2.enabled && [r2.from, r2.server]).toEqual([`KUBECONFIG ${good}`, server.url]);
    await mkdir(join(dir, 'home', '.kube'), { recursive: true });
    await server.writeKubeconfig(join(dir, 'home', '.kube', 'config'));
    const r3 = await resolveKube({ mode: 'auto', kubeconfig: null, env: { HOME: join(dir, 'home') } });
    expect(r3.enabled && r3.from).toBe(join(dir, 'home', '.kube', 'config'));
  });

  it('a file that does not load: auto is off with the reason, on is an error', async () => {
    const bad = join(dir, 'broken.yaml');
    const r = await resolveKube({ mode: 'auto', kubeconfig: bad, env: {} });
    expect(r.enabled).toBe(false);
    expect(!r.enabled && r.reason).toMatch(new RegExp(`^no usable Kubernetes credentials \\(--kubeconfig ${bad}: `));
    await expect(resolveKube({ mode: 'on', kubeconfig: join(dir, 'nope.yaml'), env: {} })).rejects.toThrow(/ENOENT/);
  });

  it('in-cluster: KUBERNETES_SERVICE_HOST/PORT and the service-account token file, which reaches the server', async () => {
    const root = join(dir, 'pod');
    await mkdir(join(root, SERVICEACCOUNT_DIR), { recursive: true });
    await writeFile(join(root, SERVICEACCOUNT_DIR, 'token'), server.token);
    await writeFile(join(root, SERVICEACCOUNT_DIR, 'ca.crt'), server.caPem);
    const env = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(server.port), HOME: join(dir, 'home') };
    const r = await resolveKube({ mode: 'on', kubeconfig: null, env, serviceAccountRoot: root });
    if (!r.enabled) throw new Error(r.reason);
    expect([r.from, r.server]).toEqual(['in-cluster service account', server.url]); // in-cluster wins over ~/.kube/config
    const source = await listIntent(r.kc, r, { timeoutMs: 5000 });
    expect(source.health().up).toBe(true);
    expect(source.view().status.state).toBe('synced');
    // Without the token file, in-cluster is not a candidate.
    const none = await resolveKube({ mode: 'auto', kubeconfig: null, env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '443' }, serviceAccountRoot: join(dir, 'nowhere') });
    expect(none.enabled).toBe(false);
  });
});
