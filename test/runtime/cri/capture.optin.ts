/**
 * Captures a real containerd's CRI answers as test fixtures (test/fixtures/cri/, README there): a throwaway
 * containerd (test/helpers/containerd.ts) with one pod of two containers and one host-network pod, each read RPC the
 * agent makes sent through the agent's own HTTP/2 channel (agent/runtime/cri/grpc-channel.ts), and the response
 * message bytes (the gRPC frame's payload, as the runtime sent it) written as hex. Run as root:
 *   CAPTURE_CRI_FIXTURES=1 npx vitest run --config vitest.optin.config.ts test/runtime/cri/capture.optin.ts
 * CAPTURE_CRI_OUT=DIR writes elsewhere. Everything it creates is removed at the end, also on failure.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_MESSAGE_BYTES, criMethodPath } from '../../../agent/runtime/cri-client.js';
import { GrpcChannel } from '../../../agent/runtime/cri/grpc-channel.js';
import { CRI_RPCS, type CriMethod, type CriMethods } from '../../../agent/runtime/cri/messages.js';
import { encodeMessage, type Decoded } from '../../../agent/runtime/cri/schema.js';
import { startContainerd, type ContainerdHarness } from '../../helpers/containerd.js';

const out = process.env.CAPTURE_CRI_OUT ?? fileURLToPath(new URL('../../fixtures/cri/', import.meta.url));
const enabled = process.env.CAPTURE_CRI_FIXTURES === '1';

describe.runIf(enabled)('capture CRI fixtures from a real containerd', () => {
  let h: ContainerdHarness | null = null;
  afterAll(async () => {
    await h?.stop();
  });

  it('writes one hex fixture per read RPC', async () => {
    h = await startContainerd({ name: 'cricap' });
    const web = await h.runPod({ name: 'web', namespace: 'shop', uid: 'uid-web-1', containers: ['app', 'sidecar'] });
    await h.runPod({ name: 'hostpod', namespace: 'kube-system', uid: 'uid-host-1', hostNetwork: true });
    const channel = new GrpcChannel({ socketPath: h.socket, maxReceiveBytes: MAX_MESSAGE_BYTES, maxSendBytes: MAX_MESSAGE_BYTES });
    const call = async <M extends CriMethod>(method: M, req: CriMethods[M][0]): Promise<Buffer> =>
      channel.unary(criMethodPath('v1', method), encodeMessage(CRI_RPCS[method].request, req as Decoded), 10_000);
    try {
      const fixtures: [string, string, Buffer][] = [
        ['version.hex', 'Version {version: "v1"}', await call('Version', { version: 'v1' })],
        ['list-pod-sandbox.hex', 'ListPodSandbox {} (shop/web with 2 containers, kube-system/hostpod on the host network)', await call('ListPodSandbox', {})],
        ['pod-sandbox-status-verbose.hex', 'PodSandboxStatus {pod_sandbox_id: shop/web, verbose: true}', await call('PodSandboxStatus', { pod_sandbox_id: web.sandboxId, verbose: true })],
        ['list-containers.hex', 'ListContainers {}', await call('ListContainers', {})],
        ['container-status-verbose.hex', 'ContainerStatus {container_id: shop/web app, verbose: true}', await call('ContainerStatus', { container_id: web.containers[0]!.id, verbose: true })],
        ['list-container-stats.hex', 'ListContainerStats {}', await call('ListContainerStats', {})],
      ];
      mkdirSync(out, { recursive: true });
      for (const [name, what, bytes] of fixtures) {
        expect(bytes.length).toBeGreaterThan(0);
        writeFileSync(join(out, name), `# containerd ${what}\n${bytes.toString('hex')}\n`);
        process.stdout.write(`${name}: ${bytes.length} bytes\n`);
      }
    } finally {
      channel.close();
    }
  });
});
