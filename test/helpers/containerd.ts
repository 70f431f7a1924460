/**
 * A real containerd (Debian's 1.6 + runc + CNI plugins) for tests: its own temp dir, config.toml, socket, runc
 * root, CNI bridge and subnet; pods and containers created through CRI (protos/cri.proto via grpc-js,
 * cri-grpc.ts). No registry: the busybox image archive (busybox-image.ts) plus a derived "pause" image (same layer,
 * a sleep as its command) are imported with `ctr images import`.
 *
 * Parallel harnesses (vitest files, other engineers' runs) never collide: each takes a slot with an O_EXCL mkdir
 * under /tmp/cna-slots/<n> (stale slots of dead processes are reclaimed), giving bridge cnabr<n> and subnet
 * 10.88.<n>.0/24 (so at most 253 pod-network pods per harness).
 *
 * containerd still writes outside its dir: netns under /var/run/netns (cni-*), CNI results under /var/lib/cni,
 * shim sockets under /run/containerd/s, and the CNI bridge. stop() removes those of its own pods.
 *
 * Beside it: containerd-slots.ts (the slots), containerd-images.ts (the images archive), containerd-config.ts (its
 * config.toml and CNI conflist), containerd-leftovers.ts (what stop() removes outside its dir), containerd-turns.ts
 * (runPod's turns, and the pods being created when stop() is called).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { GrpcCriClient, type HarnessCriMethods } from './cri-grpc.js';
import { parseSandboxInfo } from '../../agent/runtime/cri-info.js';
import { BUSYBOX_IMAGE } from './busybox-image.js';
import { cniConflist, configToml } from './containerd-config.js';
import { testImagesArchive } from './containerd-images.js';
import { deleteRuncContainers, ipLinkDelete, killLeftoverShims, removeCniResults, removeNetnsFile, unmountUnder } from './containerd-leftovers.js';
import { SLOTS_DIR, takeSlot } from './containerd-slots.js';
import { CreationTurns } from './containerd-turns.js';
import { ensureNetnsRunDirMount } from './netns-run-dir.js';

export { PAUSE_IMAGE } from './containerd-images.js';

export interface TestPod {
  sandboxId: string;
  name: string;
  namespace: string;
  uid: string;
  pid: number;
  netnsPath: string;
  containers: { id: string; name: string }[];
}

export interface RunPodOptions {
  name: string;
  namespace?: string;
  uid?: string;
  hostNetwork?: boolean;
  /** Container names, default ['app']. */
  containers?: string[];
  /** Default ['/bin/sleep', '3600']. */
  command?: string[];
  /** Pod labels, put on the sandbox as kubelet does (next to its io.kubernetes.* labels). */
  labels?: Record<string, string>;
}

export interface ContainerdHarness {
  dir: string;
  socket: string;
  /** unix://<socket> */
  endpoint: string;
  /** PID of the current containerd process. */
  pid: number;
  bridge: string;
  subnet: string;
  runPod(opts: RunPodOptions): Promise<TestPod>;
  removePod(sandboxId: string): Promise<void>;
  /** StopContainer with a 0 s grace period (SIGKILL). */
  stopContainer(id: string): Promise<void>;
  /**
   * Start a container. A CREATED container is started as is; an EXITED one is restarted the way kubelet does it:
   * a new container with the same name and attempt+1 in the same sandbox (the old one stays, EXITED).
   * Resolves to the ID of the running container (a new ID after a restart).
   */
  startContainer(id: string): Promise<string>;
  /** SIGKILL containerd only (the pods' shims keep running). */
  kill(): Promise<void>;
  /** Start containerd again with the same config and wait until CRI answers. */
  start(): Promise<void>;
  /**
   * Remove all pods (those being created finish first; later runPod calls are refused: containerd-turns.ts), stop
   * containerd, clean its dir, bridge, netns and /run/containerd leftovers of its pods. Called again: the same teardown.
   */
  stop(): Promise<void>;
  /** The CRI client the harness uses (60 s deadline). */
  readonly cri: GrpcCriClient;
}

const CALL_TIMEOUT_MS = 60_000;
/** Until containerd answers CRI Version after its start. */
const START_TIMEOUT_MS = 60_000;
/** runPod calls creating pods at once; more wait their turn (containerd-turns.ts). */
const RUN_POD_CONCURRENCY = 8;
const PATH_ENV = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

interface PodRecord {
  pod: TestPod;
  sandboxConfig: Record<string, unknown>;
  command: string[];
  /** Container id -> name and attempt. */
  containers: Map<string, { name: string; attempt: number }>;
  /** netns file reported by containerd (removed at stop if still there). */
  netnsFile: string | null;
}

class Harness implements ContainerdHarness {
  readonly dir: string;
  readonly socket: string;
  readonly endpoint: string;
  readonly bridge: string;
  readonly subnet: string;
  readonly cri: GrpcCriClient;
  pid = 0;
  private child: ChildProcess | null = null;
  private readonly pods = new Map<string, PodRecord>();
  private readonly turns = new CreationTurns(RUN_POD_CONCURRENCY);
  private stopping: Promise<void> | null = null;
  private readonly onExit = (): void => {
    if (this.child?.pid && this.child.exitCode === null) process.kill(this.child.pid, 'SIGKILL');
  };

  constructor(
    dir: string,
    private readonly slot: number,
    private readonly name: string,
    socket: string,
  ) {
    this.dir = dir;
    this.socket = socket;
    this.endpoint = `unix://${this.socket}`;
    this.bridge = `cnabr${slot}`;
    this.subnet = `10.88.${slot}.0/24`;
    this.cri = new GrpcCriClient({ socketPath: this.socket, timeoutMs: CALL_TIMEOUT_MS });
  }

  private get logFile(): string {
    return join(this.dir, 'containerd.log');
  }

  private logTail(lines = 30): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch (err) {
      return `(no log: ${(err as Error).message})`;
    }
  }

  async start(): Promise<void> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) throw new Error(`containerd ${this.name} is already running`);
    const fd = openSync(this.logFile, 'a');
    let child: ChildProcess;
    try {
      // Its own process group: a terminal's ^C (SIGINT to the foreground group) reaches the harness's owner, who
      // removes the pods through containerd, and not containerd, which would go with the pods it is creating.
      child = spawn('containerd', ['--config', join(this.dir, 'config.toml')], {
        detached: true,
        stdio: ['ignore', fd, fd],
        env: { ...process.env, PATH: PATH_ENV },
      });
    } finally {
      closeSync(fd);
    }
    this.child = child;
    const spawned = await new Promise<Error | null>((resolve) => {
      child.once('spawn', () => resolve(null));
      child.once('error', (err) => resolve(err));
    });
    if (spawned) throw new Error(`cannot start containerd: ${spawned.message}`);
    this.pid = child.pid!;
    process.off('exit', this.onExit); // a containerd that died by itself left it registered: never add it twice
    process.on('exit', this.onExit);

    // Several containerds may start at once on a loaded 2-core machine: a minute, well within the hook timeout.
    const deadline = Date.now() + START_TIMEOUT_MS;
    let last = '';
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`containerd ${this.name} exited (${child.exitCode ?? child.signalCode}) during start; log tail:\n${this.logTail()}`);
      }
      if (existsSync(this.socket)) {
        try {
          await this.cri.call('Version', {}, { timeoutMs: 5000 });
          return;
        } catch (err) {
          last = (err as Error).message;
        }
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`containerd ${this.name} did not answer CRI Version within ${START_TIMEOUT_MS / 1000} s (${last}); log tail:\n${this.logTail()}`);
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    process.kill(child.pid!, 'SIGKILL');
    await exited;
    process.off('exit', this.onExit);
  }

  private async terminate(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    process.kill(child.pid!, 'SIGTERM');
    const timer = setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
    }, 5000);
    await exited;
    clearTimeout(timer);
    process.off('exit', this.onExit);
  }

  runPod(opts: RunPodOptions): Promise<TestPod> {
    return this.turns.run(`pod ${opts.name}`, () => this.createPod(opts));
  }

  private async createPod(opts: RunPodOptions): Promise<TestPod> {
    const namespace = opts.namespace ?? 'default';
    const uid = opts.uid ?? randomUUID();
    const hostNetwork = opts.hostNetwork ?? false;
    const names = opts.containers ?? ['app'];
    const command = opts.command ?? ['/bin/sleep', '3600'];
    const logDir = join(this.dir, 'logs', `${namespace}_${opts.name}_${uid}`);
    await mkdir(logDir, { recursive: true });
    const sandboxConfig = {
      metadata: { name: opts.name, uid, namespace, attempt: 0 },
      // kubelet leaves the hostname empty for host-network pods (runc cannot set it without a UTS namespace).
      hostname: hostNetwork ? '' : opts.name.slice(0, 63),
      log_directory: logDir,
      labels: {
        ...opts.labels,
        'io.kubernetes.pod.name': opts.name,
        'io.kubernetes.pod.namespace': namespace,
        'io.kubernetes.pod.uid': uid,
      },
      linux: {
        security_context: { namespace_options: { network: hostNetwork ? 'NODE' : 'POD', pid: 'CONTAINER', ipc: 'POD' } },
      },
    };
    const { pod_sandbox_id: sandboxId } = await this.cri.call('RunPodSandbox', { config: sandboxConfig });
    const record: PodRecord = {
      pod: { sandboxId, name: opts.name, namespace, uid, pid: 0, netnsPath: '', containers: [] },
      sandboxConfig,
      command,
      containers: new Map(),
      netnsFile: null,
    };
    this.pods.set(sandboxId, record);
    for (const name of names) {
      this.turns.check(`pod ${opts.name}`); // stopping: its sandbox, recorded, is stop()'s to remove
      const id = await this.createContainer(record, name, 0);
      await this.cri.call('StartContainer', { container_id: id });
      record.pod.containers.push({ id, name });
    }
    const st = await this.cri.call('PodSandboxStatus', { pod_sandbox_id: sandboxId, verbose: true });
    const info = parseSandboxInfo(st.info);
    if (info.pid === null) throw new Error(`pod ${opts.name}: containerd reported no sandbox pid (${info.errors.map((e) => e.message).join('; ')})`);
    record.pod.pid = info.pid;
    record.netnsFile = info.netnsPath;
    record.pod.netnsPath = info.netnsPath ?? `/proc/${info.pid}/ns/net`;
    return { ...record.pod, containers: [...record.pod.containers] };
  }

  private async createContainer(record: PodRecord, name: string, attempt: number): Promise<string> {
    const config: HarnessCriMethods['CreateContainer'][0]['config'] = {
      metadata: { name, attempt },
      image: { image: BUSYBOX_IMAGE },
      command: record.command,
      log_path: `${name}_${attempt}.log`,
      labels: {
        'io.kubernetes.container.name': name,
        'io.kubernetes.pod.name': record.pod.name,
        'io.kubernetes.pod.namespace': record.pod.namespace,
        'io.kubernetes.pod.uid': record.pod.uid,
      },
      linux: {},
    };
    const { container_id: id } = await this.cri.call('CreateContainer', {
      pod_sandbox_id: record.pod.sandboxId,
      config,
      sandbox_config: record.sandboxConfig,
    });
    record.containers.set(id, { name, attempt });
    return id;
  }

  async removePod(sandboxId: string): Promise<void> {
    await this.cri.call('StopPodSandbox', { pod_sandbox_id: sandboxId });
    await this.cri.call('RemovePodSandbox', { pod_sandbox_id: sandboxId });
    const rec = this.pods.get(sandboxId);
    this.pods.delete(sandboxId);
    if (rec?.netnsFile) await removeNetnsFile(rec.netnsFile);
  }

  async stopContainer(id: string): Promise<void> {
    await this.cri.call('StopContainer', { container_id: id, timeout: 0 });
  }

  async startContainer(id: string): Promise<string> {
    const st = await this.cri.call('ContainerStatus', { container_id: id });
    const state = st.status?.state;
    if (state === 'CONTAINER_CREATED') {
      await this.cri.call('StartContainer', { container_id: id });
      return id;
    }
    if (state === 'CONTAINER_RUNNING') return id;
    const rec = [...this.pods.values()].find((r) => r.containers.has(id));
    if (!rec) throw new Error(`container ${id} does not belong to a pod of this harness`);
    const { name, attempt } = rec.containers.get(id)!;
    const newId = await this.createContainer(rec, name, attempt + 1);
    await this.cri.call('StartContainer', { container_id: newId });
    rec.pod.containers = rec.pod.containers.map((c) => (c.id === id ? { id: newId, name } : c));
    return newId;
  }

  stop(): Promise<void> {
    this.stopping ??= this.teardown();
    return this.stopping;
  }

  private async teardown(): Promise<void> {
    // 0. Pods being created first settle: a sandbox created after the listing below would outlive containerd.
    await this.turns.close();
    const errors: string[] = [];
    const note = (what: string, err: unknown): void => {
      errors.push(`${what}: ${(err as Error)?.message ?? String(err)}`);
    };
    // 1. Remove every pod through CRI (containerd must be up for this).
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      try {
        const { items } = await this.cri.call('ListPodSandbox', {});
        for (const sb of items) {
          if (!this.pods.has(sb.id)) this.pods.set(sb.id, { pod: { sandboxId: sb.id } as TestPod, sandboxConfig: {}, command: [], containers: new Map(), netnsFile: null });
        }
      } catch (err) {
        note('ListPodSandbox', err);
      }
      await Promise.all(
        [...this.pods.keys()].map((id) => this.removePod(id).catch((err: unknown) => note(`remove pod ${id}`, err))),
      );
    }
    this.cri.close();
    await this.terminate().catch((err: unknown) => note('stop containerd', err));

    // 2. Leftovers of a containerd that could not clean up (killed, a failed removal): the netns of the pods its shims
    // still serve are found before the shims are killed (a pod whose creation failed had no netnsFile recorded).
    const shimNetns = await killLeftoverShims(this.dir, this.socket).catch((err: unknown) => note('shims', err));
    await deleteRuncContainers(this.dir).catch((err: unknown) => note('runc', err));
    const netns = new Set([...(shimNetns ?? []), ...[...this.pods.values()].flatMap((r) => (r.netnsFile ? [r.netnsFile] : []))]);
    for (const f of netns) await removeNetnsFile(f).catch((err: unknown) => note('netns', err));
    await removeCniResults(this.slot).catch((err: unknown) => note('cni results', err));
    await unmountUnder(this.dir).catch((err: unknown) => note('umount', err));
    await ipLinkDelete(this.bridge).catch((err: unknown) => note('bridge', err));
    await rm(this.dir, { recursive: true, force: true }).catch((err: unknown) => note('rm dir', err));
    await rm(join(SLOTS_DIR, String(this.slot)), { recursive: true, force: true }).catch((err: unknown) => note('slot', err));
    if (errors.length) throw new Error(`containerd harness ${this.name} cleanup: ${errors.join('; ')}`);
  }
}

/**
 * Start a containerd for a test. Always pair with `await h.stop()` in afterAll (also on failure).
 * `name` only labels errors and the temp dir; `socket` puts the CRI socket elsewhere than its dir (e.g. a well-known
 * path under a test's host root; its directory is created, and the caller removes it).
 */
export async function startContainerd(opts: { name?: string; socket?: string } = {}): Promise<ContainerdHarness> {
  const name = opts.name ?? 'test';
  await ensureNetnsRunDirMount(); // before any pod's namespace is mounted there (netns-run-dir.ts)
  const slot = await takeSlot();
  let dir: string | null = null;
  try {
    dir = await mkdtemp(join(tmpdir(), `cna-ctd-${name.replace(/[^a-zA-Z0-9_-]/g, '').slice(0, 12)}-`));
    await mkdir(join(dir, 'cni-conf'), { recursive: true });
    const socket = opts.socket ?? join(dir, 'containerd.sock');
    await mkdir(dirname(socket), { recursive: true });
    await writeFile(join(dir, 'config.toml'), configToml(dir, slot, socket));
    await writeFile(join(dir, 'cni-conf', '10-cna.conflist'), cniConflist(dir, slot));
    const h = new Harness(dir, slot, name, socket);
    try {
      await h.start();
      const archive = await testImagesArchive();
      await execa('ctr', ['-a', h.socket, '-n', 'k8s.io', 'images', 'import', archive], { timeout: 60_000 });
    } catch (err) {
      // stop() removes the dir and the slot too; a cleanup failure is added to the start error, not hidden.
      await h.stop().catch((cleanup: unknown) => {
        throw new Error(`${(err as Error).message}\n(and cleanup failed: ${(cleanup as Error).message})`, { cause: err });
      });
      throw err;
    }
    return h;
  } catch (err) {
    const cleanup: string[] = [];
    if (dir) await rm(dir, { recursive: true, force: true }).catch((e: unknown) => cleanup.push((e as Error).message));
    await rm(join(SLOTS_DIR, String(slot)), { recursive: true, force: true }).catch((e: unknown) => cleanup.push((e as Error).message));
    if (cleanup.length) throw new Error(`${(err as Error).message}\n(and cleanup failed: ${cleanup.join('; ')})`, { cause: err });
    throw err;
  }
}
