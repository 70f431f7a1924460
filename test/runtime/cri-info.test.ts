/**
 * Unit tests of the verbose-info parsing for each runtime shape. The fixtures are trimmed from real answers:
 * containerd 1.6.20 (captured from the test harness), containerd 2.x (internal/cri/types/sandbox_info.go),
 * CRI-O (server/sandbox_status.go createSandboxInfo, spoofed and not), cri-dockerd (no sandbox info).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../agent/errors.js';
import { parseContainerInfo, parseSandboxInfo } from '../../agent/runtime/cri-info.js';

const wrap = (o: unknown): Record<string, string> => ({ info: JSON.stringify(o) });
const NETNS = '/var/run/netns/cni-e800362c-3ef4-8d52-d08e-5f3d937ef2ed';
const podSpec = {
  ociVersion: '1.0.2-dev',
  linux: { namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network', path: NETNS }] },
};
const hostSpec = { ociVersion: '1.0.2-dev', linux: { namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'mount' }] } };

const containerd1 = {
  pid: 7202,
  processStatus: 'running',
  netNamespaceClosed: false,
  image: 'chaos-agent-test/pause:latest',
  snapshotKey: 'abc',
  snapshotter: 'overlayfs',
  runtimeHandler: '',
  runtimeType: 'io.containerd.runc.v2',
  runtimeOptions: { root: '/tmp/x/runc' },
  config: { metadata: { name: 'a', uid: 'u', namespace: 'default' }, linux: { security_context: { namespace_options: { pid: 1 } } } },
  runtimeSpec: podSpec,
  cniResult: { Interfaces: {}, DNS: [{}], Routes: null },
};

const messages = (r: { errors: ValidationError[] }): string[] => r.errors.map((e) => e.message);

describe('parseSandboxInfo: containerd 1.x', () => {
  it('reads pid and the runtimeSpec netns path of a pod-network sandbox', () => {
    expect(parseSandboxInfo(wrap(containerd1))).toEqual({
      shape: 'containerd',
      pid: 7202,
      netnsPath: NETNS,
      hostNetwork: false,
      netnsClosed: false,
      errors: [],
    });
  });

  it('marks a host-network sandbox (config network 2, no network namespace in the spec)', () => {
    const host = {
      ...containerd1,
      pid: 7290,
      config: { linux: { security_context: { namespace_options: { network: 2, pid: 1 } } } },
      runtimeSpec: hostSpec,
    };
    expect(parseSandboxInfo(wrap(host))).toMatchObject({ shape: 'containerd', pid: 7290, netnsPath: null, hostNetwork: true, errors: [] });
    // Either hint alone is enough.
    expect(parseSandboxInfo(wrap({ ...host, config: {} })).hostNetwork).toBe(true);
    expect(parseSandboxInfo(wrap({ ...host, runtimeSpec: undefined })).hostNetwork).toBe(true);
    expect(parseSandboxInfo(wrap({ ...host, config: { linux: { security_context: { namespace_options: { network: 'NODE' } } } }, runtimeSpec: undefined })).hostNetwork).toBe(true);
  });

  it('pid 0 (task not running) and a closed netns give nulls without errors', () => {
    const r = parseSandboxInfo(wrap({ ...containerd1, pid: 0, processStatus: 'stopped', netNamespaceClosed: true }));
    expect(r).toEqual({ shape: 'containerd', pid: null, netnsPath: null, hostNetwork: false, netnsClosed: true, errors: [] });
  });
});

describe('parseSandboxInfo: containerd 2.x', () => {
  const meta = {
    Version: 'v1',
    Metadata: { ID: 'sb1', Name: 'a_default_u_0', Config: {}, NetNSPath: '/var/run/netns/cni-1111', IP: '10.88.0.5', RuntimeHandler: '' },
  };
  it('prefers the runtimeSpec path, and uses sandboxMetadata.Metadata.NetNSPath when there is no runtimeSpec', () => {
    expect(parseSandboxInfo(wrap({ ...containerd1, sandboxMetadata: meta }))).toMatchObject({ shape: 'containerd-2', pid: 7202, netnsPath: NETNS, errors: [] });
    const noSpec = { pid: 0, processStatus: 'running', netNamespaceClosed: false, config: {}, runtimeSpec: null, sandboxMetadata: meta };
    expect(parseSandboxInfo(wrap(noSpec))).toEqual({
      shape: 'containerd-2',
      pid: null,
      netnsPath: '/var/run/netns/cni-1111',
      hostNetwork: null,
      netnsClosed: false,
      errors: [],
    });
  });
  it('reads host network from the metadata config and rejects a bad metadata type', () => {
    const hostMeta = { ...meta, Metadata: { ...meta.Metadata, NetNSPath: '', Config: { linux: { security_context: { namespace_options: { network: 2 } } } } } };
    expect(parseSandboxInfo(wrap({ pid: 5, sandboxMetadata: hostMeta }))).toMatchObject({ pid: 5, netnsPath: null, hostNetwork: true, errors: [] });
    const r = parseSandboxInfo(wrap({ pid: 5, sandboxMetadata: 'v1' }));
    expect(r.pid).toBe(5);
    expect(messages(r)).toEqual(['sandbox info: sandboxMetadata is not an object with Metadata']);
  });
});

describe('parseSandboxInfo: CRI-O', () => {
  it('reads {image, pid, runtimeSpec}', () => {
    expect(parseSandboxInfo(wrap({ image: 'registry.k8s.io/pause:3.9', pid: 4242, runtimeSpec: podSpec }))).toEqual({
      shape: 'cri-o',
      pid: 4242,
      netnsPath: NETNS,
      hostNetwork: false,
      netnsClosed: false,
      errors: [],
    });
  });
  it('reads the dropped-infra shape {runtimeSpec}: no pid, the netns path only', () => {
    expect(parseSandboxInfo(wrap({ runtimeSpec: podSpec }))).toEqual({
      shape: 'cri-o-dropped-infra',
      pid: null,
      netnsPath: NETNS,
      hostNetwork: false,
      netnsClosed: false,
      errors: [],
    });
    expect(parseSandboxInfo(wrap({ runtimeSpec: hostSpec }))).toMatchObject({ shape: 'cri-o-dropped-infra', pid: null, netnsPath: null, hostNetwork: true });
  });
});

describe('parseSandboxInfo: no info (cri-dockerd, non-verbose)', () => {
  it.each([[{}], [undefined], [null], [{ info: '' }], [{ other: '{"pid":5}' }]])('%j -> empty, no errors', (info) => {
    expect(parseSandboxInfo(info)).toEqual({ shape: 'empty', pid: null, netnsPath: null, hostNetwork: null, netnsClosed: false, errors: [] });
  });
});

describe('parseSandboxInfo: malformed input becomes ValidationErrors, never a throw', () => {
  const cases: [string, unknown, string][] = [
    ['not JSON', { info: '{"pid": 12' }, 'sandbox info: info["info"] is not valid JSON: '],
    ['JSON array', { info: '[1,2]' }, 'sandbox info: info["info"] is JSON array, not an object'],
    ['JSON null', { info: 'null' }, 'sandbox info: info["info"] is JSON null, not an object'],
    ['JSON string', { info: '"x"' }, 'sandbox info: info["info"] is JSON string, not an object'],
    ['info value is a number', { info: 42 }, 'sandbox info: info["info"] is number, not a JSON string'],
    ['map is an array', ['{"pid":1}'], 'sandbox info: info map is an array, not an object'],
    ['map is a string', '{"pid":1}', 'sandbox info: info map is string, not an object'],
  ];
  it.each(cases)('%s', (_name, info, message) => {
    const r = parseSandboxInfo(info);
    expect(r).toMatchObject({ shape: 'unknown', pid: null, netnsPath: null, hostNetwork: null });
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toBeInstanceOf(ValidationError);
    expect(r.errors[0]!.message.startsWith(message)).toBe(true);
  });

  const pids: [unknown, number | null, string | null][] = [
    [-1, null, 'sandbox info: invalid pid -1'],
    [1.5, null, 'sandbox info: invalid pid 1.5'],
    [4_194_305, null, 'sandbox info: invalid pid 4194305'],
    ['12; rm -rf /', null, 'sandbox info: invalid pid "12; rm -rf /"'],
    [{ v: 1 }, null, 'sandbox info: invalid pid {"v":1}'],
    [true, null, 'sandbox info: invalid pid true'],
    ['123', 123, null],
    [null, null, null],
    [0, null, null],
  ];
  it.each(pids)('pid %j -> %j', (pid, expected, error) => {
    const r = parseSandboxInfo(wrap({ pid, runtimeSpec: podSpec }));
    expect(r.pid).toBe(expected);
    expect(r.netnsPath).toBe(NETNS); // the rest of the info is still used
    expect(messages(r)).toEqual(error ? [error] : []);
  });

  const paths: [unknown, string][] = [
    ['var/run/netns/x', 'sandbox info: runtimeSpec network namespace path: unsafe path "var/run/netns/x"'],
    ['/var/run/netns/../../etc/shadow', 'sandbox info: runtimeSpec network namespace path: unsafe path "/var/run/netns/../../etc/shadow"'],
    ['/var/run/netns/x\u0000y', 'sandbox info: runtimeSpec network namespace path: unsafe path "/var/run/netns/x\\u0000y"'],
    [17, 'sandbox info: runtimeSpec network namespace path: invalid path 17'],
    ['/' + 'a'.repeat(5000), 'sandbox info: runtimeSpec network namespace path: invalid path "/aaaa'],
  ];
  it.each(paths)('netns path %j is rejected', (path, message) => {
    const r = parseSandboxInfo(wrap({ pid: 9, runtimeSpec: { linux: { namespaces: [{ type: 'network', path }] } } }));
    expect(r.pid).toBe(9);
    expect(r.netnsPath).toBeNull();
    expect(r.hostNetwork).toBe(false); // a network namespace entry exists: not host network
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]!.message.startsWith(message)).toBe(true);
  });

  it('reports wrong runtimeSpec / namespaces / netNamespaceClosed types', () => {
    expect(messages(parseSandboxInfo(wrap({ pid: 3, runtimeSpec: 'x' })))).toEqual(['sandbox info: runtimeSpec is not an object']);
    expect(messages(parseSandboxInfo(wrap({ pid: 3, runtimeSpec: { linux: [] } })))).toEqual(['sandbox info: runtimeSpec.linux is not an object']);
    expect(messages(parseSandboxInfo(wrap({ pid: 3, runtimeSpec: { linux: { namespaces: {} } } })))).toEqual([
      'sandbox info: runtimeSpec.linux.namespaces is not an array',
    ]);
    const r = parseSandboxInfo(wrap({ pid: 3, runtimeSpec: { linux: { namespaces: [7, { type: 'network', path: NETNS }] } } }));
    expect(r.netnsPath).toBe(NETNS);
    expect(messages(r)).toEqual(['sandbox info: runtimeSpec.linux.namespaces has a non-object entry']);
    const c = parseSandboxInfo(wrap({ ...containerd1, netNamespaceClosed: 'no' }));
    expect(c.netnsPath).toBe(NETNS);
    expect(messages(c)).toEqual(['sandbox info: netNamespaceClosed is not a boolean']);
  });

  it('never throws on arbitrary input (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.dictionary(fc.constantFrom('info', 'x'), fc.oneof(fc.string(), fc.json()))), (info) => {
        const r = parseSandboxInfo(info);
        expect(r.pid === null || (Number.isInteger(r.pid) && r.pid > 0)).toBe(true);
        expect(r.netnsPath === null || r.netnsPath.startsWith('/')).toBe(true);
        for (const e of r.errors) expect(e).toBeInstanceOf(ValidationError);
      }),
      { numRuns: 500 },
    );
  });
});

describe('parseContainerInfo', () => {
  it('reads {sandboxID, pid} of containerd, CRI-O and cri-dockerd', () => {
    const containerd = { sandboxID: 'sb1', pid: 7244, removing: false, snapshotKey: 'k', runtimeSpec: podSpec, config: {} };
    expect(parseContainerInfo(wrap(containerd))).toEqual({ pid: 7244, sandboxId: 'sb1', errors: [] });
    expect(parseContainerInfo(wrap({ sandboxID: 'sb2', pid: 88, runtimeSpec: podSpec, privileged: false }))).toEqual({ pid: 88, sandboxId: 'sb2', errors: [] });
    expect(parseContainerInfo(wrap({ sandboxID: 'sb3', pid: 99 }))).toEqual({ pid: 99, sandboxId: 'sb3', errors: [] });
  });
  it('exited container (pid 0), missing info, malformed fields', () => {
    expect(parseContainerInfo(wrap({ sandboxID: 'sb', pid: 0 }))).toEqual({ pid: null, sandboxId: 'sb', errors: [] });
    expect(parseContainerInfo({})).toEqual({ pid: null, sandboxId: null, errors: [] });
    const bad = parseContainerInfo(wrap({ sandboxID: 5, pid: 'x' }));
    expect(bad).toMatchObject({ pid: null, sandboxId: null });
    expect(messages(bad)).toEqual(['container info: invalid pid "x"', 'container info: sandboxID is not a string']);
    expect(messages(parseContainerInfo({ info: '{' }))[0]).toMatch(/^container info: info\["info"\] is not valid JSON/);
  });
});
