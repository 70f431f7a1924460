/**
 * One-shot commands' start of the Kubernetes API source (beginKubeLists, oneShotKube): with `--kube on` and
 * credentials that do not load, `result` rejects with the one-line KubeConfigError the command reports, while the
 * kube collector's source settles as off, so nothing is left rejecting unhandled (which ended the process with a
 * stack trace before the command could report).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeConfigError } from '../../agent/intent/kube-config.js';
import { beginKubeLists, oneShotKube } from '../../agent/intent/setup.js';
import { silentLogger } from '../../agent/log.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cna-setup-'));
  await writeFile(join(dir, 'broken.yaml'), 'garbage: [\n', 'utf8');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('oneShotKube', () => {
  it('--kube on with a kubeconfig that does not load: result rejects with one line, the collector source is off', async () => {
    for (const [kubeconfig, why] of [
      ['/nonexistent/h1-kubeconfig', "ENOENT: no such file or directory, open '/nonexistent/h1-kubeconfig'"],
      [join(dir, 'broken.yaml'), 'unexpected end of the stream within a flow collection (2:1)'],
    ] as const) {
      const pending = beginKubeLists({ kube: 'on', kubeconfig }, {}, silentLogger());
      expect(pending.candidate).toBe(true);
      const kube = oneShotKube(pending);
      await expect(kube!.source).resolves.toBeNull();
      const err = await pending.result.then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(KubeConfigError);
      expect((err as Error).message).toBe(`--kube on: no usable Kubernetes credentials (--kubeconfig ${kubeconfig}: ${why})`);
    }
  });

  it('no credentials under auto: no collector; --kube on without any: an error at once', () => {
    expect(oneShotKube(beginKubeLists({ kube: 'auto', kubeconfig: null }, {}, silentLogger()))).toBeUndefined();
    expect(() => beginKubeLists({ kube: 'on', kubeconfig: null }, {}, silentLogger())).toThrow(KubeConfigError);
  });
});
