/**
 * The CRI codec on a real containerd's answers (test/fixtures/cri/, README there: containerd 1.6.20, pod shop/web
 * with containers app and sidecar, host-network pod kube-system/hostpod): each captured response decodes to exactly
 * the object @grpc/proto-loader gives for the same bytes, with the values the agent then uses (names, states,
 * 64-bit timestamps and counters as decimal strings, the verbose info map that cri-info.ts parses into PIDs and the
 * network namespace path), and re-encoding it gives bytes protobufjs decodes to the same object.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseContainerInfo, parseSandboxInfo } from '../../../agent/runtime/cri-info.js';
import { CRI_RPCS, type CriMethod, type CriMethods } from '../../../agent/runtime/cri/messages.js';
import { decodeMessage, encodeMessage, type Decoded } from '../../../agent/runtime/cri/schema.js';
import { criServiceDefinition } from '../../helpers/cri-grpc.js';

const service = criServiceDefinition('v1');

function fixture(name: string): Buffer {
  const lines = readFileSync(new URL(`../../fixtures/cri/${name}.hex`, import.meta.url), 'utf8').split('\n');
  return Buffer.from(lines[1]!.trim(), 'hex');
}

/** The codec's decoding of a captured response, checked against protobufjs's on the same bytes and on its re-encoding. */
function decoded<M extends CriMethod>(method: M, name: string): CriMethods[M][1] {
  const bytes = fixture(name);
  const ours = decodeMessage(CRI_RPCS[method].response, bytes);
  expect(ours).toEqual(service[method]!.responseDeserialize(bytes));
  expect(service[method]!.responseDeserialize(encodeMessage(CRI_RPCS[method].response, ours))).toEqual(ours);
  return ours as unknown as CriMethods[M][1];
}

const DECIMAL_NS = /^1\d{18}$/;

describe('CRI codec on captured containerd answers', () => {
  it('Version', () => {
    expect(decoded('Version', 'version')).toEqual({ version: '0.1.0', runtime_name: 'containerd', runtime_version: '1.6.20~ds1', runtime_api_version: 'v1' });
  });

  it('ListPodSandbox: both pods with metadata, state, labels and a nanosecond creation time as a decimal string', () => {
    const { items } = decoded('ListPodSandbox', 'list-pod-sandbox');
    expect(items.map((p) => [p.metadata?.namespace, p.metadata?.name, p.metadata?.uid, p.state])).toEqual([
      ['shop', 'web', 'uid-web-1', 'SANDBOX_READY'],
      ['kube-system', 'hostpod', 'uid-host-1', 'SANDBOX_READY'],
    ]);
    for (const p of items) {
      expect(p.id).toMatch(/^[0-9a-f]{64}$/);
      expect(p.created_at).toMatch(DECIMAL_NS);
      expect(p.labels['io.kubernetes.pod.name']).toBe(p.metadata?.name);
    }
  });

  it('ListContainers: three running containers, each in its sandbox', () => {
    const pods = decoded('ListPodSandbox', 'list-pod-sandbox').items;
    const { containers } = decoded('ListContainers', 'list-containers');
    const podOf = (id: string): string => pods.find((p) => p.id === id)?.metadata?.name ?? '?';
    expect(containers.map((c) => [podOf(c.pod_sandbox_id), c.metadata?.name, c.state]).sort()).toEqual([
      ['hostpod', 'app', 'CONTAINER_RUNNING'], ['web', 'app', 'CONTAINER_RUNNING'], ['web', 'sidecar', 'CONTAINER_RUNNING'],
    ]);
    expect(containers.every((c) => c.image?.image === 'chaos-agent-test/busybox:latest' && c.image_ref.startsWith('sha256:'))).toBe(true);
  });

  it('PodSandboxStatus (verbose): IP, namespace modes, and an info map cri-info parses to the sandbox PID and netns path', () => {
    const res = decoded('PodSandboxStatus', 'pod-sandbox-status-verbose');
    expect(res.status?.metadata?.name).toBe('web');
    expect(res.status?.network?.ip).toMatch(/^10\.88\.\d+\.2$/);
    expect(res.status?.linux?.namespaces?.options).toEqual({ network: 'POD', pid: 'CONTAINER', ipc: 'POD', target_id: '' });
    expect(Object.keys(res.info)).toEqual(['info']);
    const info = parseSandboxInfo(res.info);
    expect(info.errors).toEqual([]);
    expect(info.shape).toBe('containerd');
    expect(info.pid).toBeGreaterThan(1);
    expect(info.netnsPath).toMatch(/^\/var\/run\/netns\/cni-[0-9a-f-]+$|^\/run\/netns\/cni-[0-9a-f-]+$/);
    expect(info.hostNetwork).toBe(false);
  });

  it('ContainerStatus (verbose): times, exit code 0, and an info map cri-info parses to the container PID and its sandbox', () => {
    const sandboxId = decoded('ListPodSandbox', 'list-pod-sandbox').items[0]!.id;
    const res = decoded('ContainerStatus', 'container-status-verbose');
    expect(res.status?.metadata).toEqual({ name: 'app', attempt: 0 });
    expect(res.status?.state).toBe('CONTAINER_RUNNING');
    expect(res.status?.started_at).toMatch(DECIMAL_NS);
    expect(res.status?.finished_at).toBe('0');
    expect(res.status?.exit_code).toBe(0);
    const info = parseContainerInfo(res.info);
    expect(info.errors).toEqual([]);
    expect(info.pid).toBeGreaterThan(1);
    expect(info.sandboxId).toBe(sandboxId);
  });

  it('ListContainerStats: CPU and memory counters as decimal strings in their UInt64Value wrappers', () => {
    const { stats } = decoded('ListContainerStats', 'list-container-stats');
    expect(stats).toHaveLength(3);
    for (const s of stats) {
      expect(s.attributes?.id).toMatch(/^[0-9a-f]{64}$/);
      expect(s.cpu?.usage_core_nano_seconds?.value).toMatch(/^[1-9]\d*$/);
      expect(s.memory?.working_set_bytes?.value).toMatch(/^[1-9]\d*$/);
    }
    const web = stats.find((s) => s.attributes?.metadata?.name === 'sidecar');
    expect(web?.memory?.rss_bytes?.value).toBe('57344');
    expect(web?.cpu?.usage_core_nano_seconds?.value).toBe('47254848');
  });

  it('every captured answer cut anywhere short of its end is a DecodeError or a prefix-valid object, never another exception', () => {
    for (const [method, name] of [['ListPodSandbox', 'list-pod-sandbox'], ['PodSandboxStatus', 'pod-sandbox-status-verbose'], ['ContainerStatus', 'container-status-verbose']] as const) {
      const bytes = fixture(name);
      for (let cut = 0; cut < bytes.length; cut += 7) {
        try {
          decodeMessage(CRI_RPCS[method].response, bytes.subarray(0, cut)) satisfies Decoded;
        } catch (err) {
          expect((err as Error).name, `${name} cut at ${cut}`).toBe('DecodeError');
        }
      }
    }
  });
});
