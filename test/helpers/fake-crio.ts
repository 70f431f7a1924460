/**
 * A CRI server for tests that answers like CRI-O (cri-o/cri-o server/sandbox_status.go, container_status.go):
 * Version runtime_name "cri-o"; PodSandboxStatus(verbose) info {"info": JSON {image, pid, runtimeSpec}}, or only
 * {runtimeSpec} when the infra container is dropped (drop_infra_ctr: CRI-O then has no sandbox process, the netns
 * path is runtimeSpec.linux.namespaces[type=network].path); ContainerStatus(verbose) info {sandboxID, pid,
 * runtimeSpec, privileged}; status.linux.namespaces.options carries the NamespaceMode (NODE = host network).
 * With flavor 'cri-dockerd' it answers like cri-dockerd instead: runtime_name "docker", no sandbox info at all,
 * container info {sandboxID, pid}.
 *
 * It is served with grpc-js on a unix socket from the same protos/cri.proto as the agent (v1, v1alpha2 or both),
 * and backed by REAL network namespaces (`ip netns add`) and REAL processes (`sleep` inside them), so the agent
 * stats real files. Everything is removed by stop().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { execa } from 'execa';
import type { CriApi } from '../../agent/runtime/cri-client.js';
import { criServiceDefinition } from './cri-grpc.js';
import { uniqueName } from './names.js';

export interface FakeCrioOptions {
  /** CRI API versions served; default ['v1']. ['v1alpha2'] makes every v1 call UNIMPLEMENTED. */
  apis?: CriApi[];
  flavor?: 'cri-o' | 'cri-dockerd';
}

export interface AddPodOptions {
  name: string;
  namespace?: string;
  uid?: string;
  /** CRI-O's drop_infra_ctr: no sandbox process, the sandbox info has no pid. */
  dropInfra?: boolean;
  hostNetwork?: boolean;
  /** Container names, default ['app']. */
  containers?: string[];
  /** Replace the verbose sandbox info map (malformed-input tests). */
  sandboxInfo?: Record<string, string>;
  /** Hide host network: NamespaceMode POD and no runtimeSpec in the info (only the netns inode can tell). */
  hideHostNetwork?: boolean;
}

export interface FakeCrioPod {
  sandboxId: string;
  name: string;
  namespace: string;
  uid: string;
  /** The pod's netns file (/var/run/netns/<name>), null for host network. */
  netnsPath: string | null;
  /** The infra (sandbox) process, null when dropped. */
  pid: number | null;
  hostNetwork: boolean;
  containers: { id: string; name: string; pid: number }[];
}

export interface FakeCrio {
  dir: string;
  socket: string;
  endpoint: string;
  /** Every method path received (e.g. /runtime.v1.RuntimeService/ListPodSandbox), in order. */
  readonly calls: string[];
  addPod(opts: AddPodOptions): Promise<FakeCrioPod>;
  removePod(sandboxId: string): Promise<void>;
  setSandboxState(sandboxId: string, state: 'SANDBOX_READY' | 'SANDBOX_NOTREADY' | number): void;
  /** Stop serving (the socket goes away, like a runtime that died); pods and their processes stay. */
  down(): Promise<void>;
  /** Serve again on the same socket (a restarted runtime). */
  up(): Promise<void>;
  /** Kill the infra process and start a new one in the same netns (its PID changes); resolves to the new PID. */
  replaceInfra(sandboxId: string): Promise<number>;
  /** These methods (e.g. ['ListPodSandbox']) never answer until unhung: deadline tests. */
  hang(methods: string[]): void;
  /** Stats every container reports: cumulative CPU in ns and working set in bytes. */
  stats: { cpuNanos: string; memoryBytes: string };
  stop(): Promise<void>;
}

interface Proc {
  child: ChildProcess;
  pid: number;
}
interface PodState {
  pod: FakeCrioPod;
  netnsName: string | null;
  infra: Proc | null;
  procs: Proc[];
  dropInfra: boolean;
  state: 'SANDBOX_READY' | 'SANDBOX_NOTREADY' | number;
  createdAt: string;
  sandboxInfo: Record<string, string> | undefined;
  hideHostNetwork: boolean;
}

const hexId = (): string => randomBytes(32).toString('hex');

/** Start `sleep` (in a named netns, or in ours) and wait until it really is sleep there (ip netns exec has exec'd). */
async function startSleeper(netnsName: string | null): Promise<Proc> {
  const child = netnsName
    ? spawn('ip', ['netns', 'exec', netnsName, 'sleep', '3600'], { stdio: 'ignore' })
    : spawn('sleep', ['3600'], { stdio: 'ignore' });
  const err = await new Promise<Error | null>((resolve) => {
    child.once('spawn', () => resolve(null));
    child.once('error', resolve);
  });
  if (err) throw err;
  const pid = child.pid!;
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const comm = await readFile(`/proc/${pid}/comm`, 'utf8').catch((e: NodeJS.ErrnoException) => `(${e.code})`);
    if (comm.trim() === 'sleep') return { child, pid };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  child.kill('SIGKILL');
  throw new Error(`sleeper in netns ${netnsName ?? '(host)'} did not start`);
}

async function stopProc(p: Proc): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise<void>((r) => p.child.once('exit', () => r()));
  process.kill(p.pid, 'SIGKILL');
  await exited;
}

/** An OCI runtime spec as CRI-O keeps it: the namespaces list is what the agent reads. */
function runtimeSpec(netnsPath: string | null): unknown {
  const namespaces: { type: string; path?: string }[] = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }];
  if (netnsPath) namespaces.push({ type: 'network', path: netnsPath });
  return {
    ociVersion: '1.0.2-dev',
    process: { user: { uid: 0, gid: 0 }, args: ['/pause'], cwd: '/' },
    root: { path: '/var/lib/containers/storage/overlay/x/merged' },
    hostname: 'fake',
    linux: { namespaces, cgroupsPath: 'kubepods-besteffort.slice:crio:x' },
  };
}

class Fake implements FakeCrio {
  readonly calls: string[] = [];
  readonly socket: string;
  readonly endpoint: string;
  stats = { cpuNanos: '1500000000', memoryBytes: '1048576' };
  private readonly pods = new Map<string, PodState>();
  private server = new grpc.Server();
  private hung = new Set<string>();
  private readonly pending: (() => void)[] = [];
  private readonly flavor: 'cri-o' | 'cri-dockerd';

  constructor(
    readonly dir: string,
    private readonly apis: CriApi[],
    flavor: 'cri-o' | 'cri-dockerd',
  ) {
    this.socket = join(dir, 'crio.sock');
    this.endpoint = `unix://${this.socket}`;
    this.flavor = flavor;
  }

  async down(): Promise<void> {
    this.hang([]);
    this.server.forceShutdown();
    await rm(this.socket, { force: true });
  }

  async up(): Promise<void> {
    this.server = new grpc.Server();
    await this.listen();
  }

  async listen(): Promise<void> {
    for (const api of this.apis) this.server.addService(criServiceDefinition(api), this.handlers(api));
    await new Promise<void>((resolve, reject) => {
      this.server.bindAsync(`unix://${this.socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve()));
    });
  }

  private handlers(api: CriApi): grpc.UntypedServiceImplementation {
    type Handler = (req: Record<string, unknown>) => unknown;
    const unary = (method: string, fn: Handler): grpc.handleUnaryCall<Record<string, unknown>, unknown> => {
      return (call, callback) => {
        this.calls.push(`/runtime.${api}.RuntimeService/${method}`);
        if (this.hung.has(method)) {
          // Never answer; the client's deadline must fire. Released (with an error) on unhang/stop.
          this.pending.push(() => callback({ code: grpc.status.ABORTED, details: 'released' }));
          return;
        }
        try {
          callback(null, fn(call.request));
        } catch (err) {
          const e = err as { code?: number; message?: string };
          callback({ code: e.code ?? grpc.status.INTERNAL, details: e.message ?? String(err) });
        }
      };
    };
    const notFound = (what: string, id: unknown): Error & { code: number } =>
      Object.assign(new Error(`could not find ${what} "${String(id)}"`), { code: grpc.status.NOT_FOUND });
    const findContainer = (id: unknown): { st: PodState; c: FakeCrioPod['containers'][number] } => {
      for (const st of this.pods.values()) {
        const c = st.pod.containers.find((x) => x.id === id);
        if (c) return { st, c };
      }
      throw notFound('container', id);
    };
    const containerState = (st: PodState, c: { pid: number }): string => {
      const p = st.procs.find((x) => x.pid === c.pid);
      return p && p.child.exitCode === null && p.child.signalCode === null ? 'CONTAINER_RUNNING' : 'CONTAINER_EXITED';
    };
    const metadata = (p: FakeCrioPod): unknown => ({ name: p.name, uid: p.uid, namespace: p.namespace, attempt: 0 });
    const crio = this.flavor === 'cri-o';

    return {
      Version: unary('Version', () =>
        crio
          ? { version: '0.1.0', runtime_name: 'cri-o', runtime_version: '1.29.2', runtime_api_version: api }
          : { version: '0.1.0', runtime_name: 'docker', runtime_version: '20.10.24', runtime_api_version: '1.41.0' },
      ),
      ListPodSandbox: unary('ListPodSandbox', () => ({
        items: [...this.pods.values()].map((st) => ({
          id: st.pod.sandboxId,
          metadata: metadata(st.pod),
          state: st.state,
          created_at: st.createdAt,
          labels: { 'io.kubernetes.pod.name': st.pod.name },
          annotations: {},
        })),
      })),
      PodSandboxStatus: unary('PodSandboxStatus', (req) => {
        const st = this.pods.get(String(req.pod_sandbox_id));
        if (!st) throw notFound('pod', req.pod_sandbox_id);
        const p = st.pod;
        let info: Record<string, string> = {};
        if (req.verbose) {
          if (st.sandboxInfo) info = st.sandboxInfo;
          else if (!crio) info = {}; // cri-dockerd ignores verbose for sandboxes
          else if (st.hideHostNetwork) info = { info: JSON.stringify({ image: 'registry.k8s.io/pause:3.9', pid: p.pid }) };
          else if (st.dropInfra) info = { info: JSON.stringify({ runtimeSpec: runtimeSpec(p.netnsPath) }) };
          else info = { info: JSON.stringify({ image: 'registry.k8s.io/pause:3.9', pid: p.pid, runtimeSpec: runtimeSpec(p.netnsPath) }) };
        }
        return {
          status: {
            id: p.sandboxId,
            metadata: metadata(p),
            state: st.state,
            created_at: st.createdAt,
            network: { ip: p.hostNetwork ? '' : '10.85.0.7', additional_ips: [] },
            linux: { namespaces: { options: { network: p.hostNetwork && !st.hideHostNetwork ? 'NODE' : 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
            labels: {},
            annotations: {},
          },
          info,
        };
      }),
      ListContainers: unary('ListContainers', () => ({
        containers: [...this.pods.values()].flatMap((st) =>
          st.pod.containers.map((c) => ({
            id: c.id,
            pod_sandbox_id: st.pod.sandboxId,
            metadata: { name: c.name, attempt: 0 },
            image: { image: 'docker.io/library/busybox:latest' },
            image_ref: 'docker.io/library/busybox@sha256:0000',
            state: containerState(st, c),
            created_at: st.createdAt,
            labels: { 'io.kubernetes.container.name': c.name },
            annotations: {},
          })),
        ),
      })),
      ContainerStatus: unary('ContainerStatus', (req) => {
        const { st, c } = findContainer(req.container_id);
        const state = containerState(st, c);
        const running = state === 'CONTAINER_RUNNING';
        const info = !req.verbose
          ? {}
          : crio
            ? { info: JSON.stringify({ sandboxID: st.pod.sandboxId, pid: running ? c.pid : 0, runtimeSpec: runtimeSpec(st.pod.netnsPath), privileged: false }) }
            : { info: JSON.stringify({ sandboxID: st.pod.sandboxId, pid: running ? c.pid : 0 }) };
        return {
          status: { id: c.id, metadata: { name: c.name, attempt: 0 }, state, created_at: st.createdAt },
          info,
        };
      }),
      ListContainerStats: unary('ListContainerStats', () => ({
        stats: [...this.pods.values()].flatMap((st) =>
          st.pod.containers
            .filter((c) => containerState(st, c) === 'CONTAINER_RUNNING')
            .map((c) => ({
              attributes: { id: c.id, metadata: { name: c.name, attempt: 0 }, labels: {}, annotations: {} },
              cpu: { timestamp: '1', usage_core_nano_seconds: { value: this.stats.cpuNanos } },
              memory: { timestamp: '1', working_set_bytes: { value: this.stats.memoryBytes } },
            })),
        ),
      })),
    };
  }

  async addPod(opts: AddPodOptions): Promise<FakeCrioPod> {
    const hostNetwork = opts.hostNetwork ?? false;
    const dropInfra = opts.dropInfra ?? false;
    const netnsName = hostNetwork ? null : uniqueName('cnacr');
    const st: PodState = {
      pod: {
        sandboxId: hexId(),
        name: opts.name,
        namespace: opts.namespace ?? 'default',
        uid: opts.uid ?? randomUUID(),
        netnsPath: netnsName ? `/var/run/netns/${netnsName}` : null,
        pid: null,
        hostNetwork,
        containers: [],
      },
      netnsName,
      infra: null,
      procs: [],
      dropInfra,
      state: 'SANDBOX_READY',
      createdAt: String(BigInt(Date.now()) * 1_000_000n),
      sandboxInfo: opts.sandboxInfo,
      hideHostNetwork: opts.hideHostNetwork ?? false,
    };
    // Registered first so stop() cleans up whatever was created if a later step fails.
    this.pods.set(st.pod.sandboxId, st);
    if (netnsName) await execa('ip', ['netns', 'add', netnsName], { timeout: 10_000 });
    if (!dropInfra) {
      st.infra = await startSleeper(netnsName);
      st.procs.push(st.infra);
      st.pod.pid = st.infra.pid;
    }
    for (const name of opts.containers ?? ['app']) {
      const p = await startSleeper(netnsName);
      st.procs.push(p);
      st.pod.containers.push({ id: hexId(), name, pid: p.pid });
    }
    return { ...st.pod, containers: [...st.pod.containers] };
  }

  async removePod(sandboxId: string): Promise<void> {
    const st = this.pods.get(sandboxId);
    if (!st) return;
    this.pods.delete(sandboxId);
    await Promise.all(st.procs.map(stopProc));
    if (st.netnsName) {
      const r = await execa('ip', ['netns', 'del', st.netnsName], { reject: false, timeout: 10_000 });
      if (r.exitCode !== 0 && !/No such file/.test(String(r.stderr))) throw new Error(`ip netns del ${st.netnsName}: ${r.stderr}`);
    }
  }

  /** A number: a PodSandboxState value protos/cri.proto does not name (a newer runtime's), sent as is. */
  setSandboxState(sandboxId: string, state: 'SANDBOX_READY' | 'SANDBOX_NOTREADY' | number): void {
    const st = this.pods.get(sandboxId);
    if (!st) throw new Error(`no fake pod ${sandboxId}`);
    st.state = state;
  }

  async replaceInfra(sandboxId: string): Promise<number> {
    const st = this.pods.get(sandboxId);
    if (!st?.infra) throw new Error(`fake pod ${sandboxId} has no infra process`);
    const old = st.infra;
    const next = await startSleeper(st.netnsName);
    st.procs.push(next);
    st.infra = next;
    st.pod.pid = next.pid;
    await stopProc(old);
    st.procs = st.procs.filter((p) => p !== old);
    return next.pid;
  }

  hang(methods: string[]): void {
    this.hung = new Set(methods);
    if (methods.length === 0) for (const release of this.pending.splice(0)) release();
  }

  async stop(): Promise<void> {
    const errors: string[] = [];
    this.hang([]);
    this.server.forceShutdown();
    for (const id of [...this.pods.keys()]) {
      await this.removePod(id).catch((err: unknown) => errors.push((err as Error).message));
    }
    await rm(this.dir, { recursive: true, force: true });
    if (errors.length) throw new Error(`fake CRI-O cleanup: ${errors.join('; ')}`);
  }
}

/** Start a fake CRI-O on a unix socket in its own temp dir. Pair with `await fake.stop()` in afterAll. */
export async function startFakeCrio(opts: FakeCrioOptions = {}): Promise<FakeCrio> {
  const dir = await mkdtemp(join(tmpdir(), 'cna-crio-'));
  const fake = new Fake(dir, opts.apis ?? ['v1'], opts.flavor ?? 'cri-o');
  try {
    await fake.listen();
  } catch (err) {
    await fake.stop().catch((e: unknown) => {
      throw new Error(`fake CRI-O failed to listen (${(err as Error).message}) and to clean up: ${(e as Error).message}`, { cause: err });
    });
    throw err;
  }
  return fake;
}
