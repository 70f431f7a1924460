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
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { GrpcCriClient, type HarnessCriMethods } from './cri-grpc.js';
import { parseSandboxInfo } from '../../agent/runtime/cri-info.js';
import { BUSYBOX_IMAGE, busyboxArchive } from './busybox-image.js';
import { mountsUnder } from './mounts.js';

export const PAUSE_IMAGE = 'chaos-agent-test/pause:latest';

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
  /** Remove all pods, stop containerd, clean its dir, bridge, netns and /run/containerd leftovers of its pods. */
  stop(): Promise<void>;
  /** The CRI client the harness uses (60 s deadline). */
  readonly cri: GrpcCriClient;
}

const SLOTS_DIR = '/tmp/cna-slots';
const MAX_SLOT = 250;
const CALL_TIMEOUT_MS = 60_000;
/** Until containerd answers CRI Version after its start. */
const START_TIMEOUT_MS = 60_000;
/** runPod calls creating pods at once; more wait (a benchmark may fire 250 at once without hitting deadlines). */
const RUN_POD_CONCURRENCY = 8;
const PATH_ENV = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

// ---------------------------------------------------------------------------------------------------------------
// Slots

/** For reads of things that may legitimately be gone (exited processes, removed files): that case -> fallback. */
function ifGone<T>(fallback: T): (err: NodeJS.ErrnoException) => T {
  return (err) => {
    if (err.code === 'ENOENT' || err.code === 'ESRCH') return fallback;
    throw err;
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function ipLinkDelete(name: string): Promise<void> {
  const r = await execa('ip', ['link', 'del', name], { reject: false, timeout: 10_000 });
  if (r.exitCode !== 0 && !/Cannot find device|does not exist/i.test(String(r.stderr))) {
    throw new Error(`ip link del ${name}: ${r.stderr}`);
  }
}

/** Take a free slot (O_EXCL mkdir), reclaiming slots whose owner process is gone. */
async function takeSlot(): Promise<number> {
  await mkdir(SLOTS_DIR, { recursive: true });
  const start = 1 + ((process.pid * 7) % MAX_SLOT);
  for (let i = 0; i < MAX_SLOT; i++) {
    const slot = 1 + ((start - 1 + i) % MAX_SLOT);
    const dir = join(SLOTS_DIR, String(slot));
    try {
      await mkdir(dir);
      await writeFile(join(dir, 'owner'), String(process.pid));
      return slot;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    // Taken: reclaim it if its owner is dead (or it never got an owner within a minute).
    let stale = false;
    try {
      const owner = Number(await readFile(join(dir, 'owner'), 'utf8'));
      stale = !Number.isInteger(owner) || owner <= 0 || !alive(owner);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      const st = await stat(dir).catch(ifGone(null));
      stale = st !== null && Date.now() - st.mtimeMs > 60_000;
    }
    if (!stale) continue;
    const grave = join(SLOTS_DIR, `stale-${slot}-${process.pid}-${i}`);
    try {
      await rename(dir, grave); // atomic: only one reclaimer wins
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    await rm(grave, { recursive: true, force: true });
    await ipLinkDelete(`cnabr${slot}`);
    i--; // retry this slot
  }
  throw new Error(`no free containerd test slot under ${SLOTS_DIR} (${MAX_SLOT} in use)`);
}

// ---------------------------------------------------------------------------------------------------------------
// Images

let imagesArchive: Promise<string> | null = null;
/**
 * One archive holding the busybox image and a pause image (same layer, command sleeps forever), cached next to
 * the busybox archive (shared by test processes; the work dir is removed).
 */
function testImagesArchive(): Promise<string> {
  imagesArchive ??= (async () => {
    const src = await busyboxArchive();
    const final = join(dirname(src), 'test-images-v1.tar');
    if (existsSync(final)) return final;
    const work = await mkdtemp(join(dirname(src), 'tmp-pause-'));
    try {
      await rename(await buildTestImages(src, work), final); // atomic replace: readers see a complete file
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    return final;
  })();
  return imagesArchive;
}

/** Builds the busybox + pause archive in `work` from the busybox archive `src`; returns its path. */
async function buildTestImages(src: string, work: string): Promise<string> {
  await execa('tar', ['-C', work, '-xf', src], { timeout: 30_000 });
  const manifest = JSON.parse(await readFile(join(work, 'manifest.json'), 'utf8')) as {
    Config: string;
    RepoTags: string[];
    Layers: string[];
  }[];
  const base = manifest[0]!;
  const config = JSON.parse(await readFile(join(work, base.Config), 'utf8')) as { config: Record<string, unknown> };
  config.config = { ...config.config, Cmd: ['/bin/sleep', '2147483647'] };
  const json = JSON.stringify(config);
  const { createHash } = await import('node:crypto');
  const name = `${createHash('sha256').update(json).digest('hex')}.json`;
  await writeFile(join(work, name), json);
  manifest.push({ Config: name, RepoTags: [PAUSE_IMAGE], Layers: base.Layers });
  await writeFile(join(work, 'manifest.json'), JSON.stringify(manifest));
  const out = join(work, 'images.tar');
  await execa('tar', ['--numeric-owner', '-C', work, '-cf', out, 'manifest.json', base.Config, name, ...base.Layers], {
    timeout: 30_000,
  });
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Harness

interface PodRecord {
  pod: TestPod;
  sandboxConfig: Record<string, unknown>;
  command: string[];
  /** Container id -> name and attempt. */
  containers: Map<string, { name: string; attempt: number }>;
  /** netns file reported by containerd (removed at stop if still there). */
  netnsFile: string | null;
}

function configToml(dir: string, slot: number, socket: string): string {
  const q = (s: string): string => JSON.stringify(s);
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return `version = 2
root = ${q(join(dir, 'root'))}
state = ${q(join(dir, 'state'))}
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = ${q(socket)}

[ttrpc]
  address = ${q(`${socket}.ttrpc`)}

[plugins."io.containerd.internal.v1.opt"]
  path = ${q(join(dir, 'opt'))}

[${cri}]
  sandbox_image = ${q(PAUSE_IMAGE)}
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_apparmor = true
  enable_selinux = false

[${cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[${cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[${cri}.containerd.runtimes.runc.options]
  Root = ${q(join(dir, 'runc'))}
  SystemdCgroup = false

[${cri}.cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = ${q(join(dir, 'cni-conf'))}
  max_conf_num = 1
`.replace(/\n\n\n/g, '\n\n') + `# slot ${slot}\n`;
}

function cniConflist(dir: string, slot: number): string {
  return JSON.stringify(
    {
      cniVersion: '0.4.0',
      name: `cna-${slot}`,
      plugins: [
        {
          type: 'bridge',
          bridge: `cnabr${slot}`,
          isGateway: true,
          ipMasq: false,
          hairpinMode: false,
          ipam: { type: 'host-local', ranges: [[{ subnet: `10.88.${slot}.0/24` }]], dataDir: join(dir, 'cni-ipam') },
        },
      ],
    },
    null,
    2,
  );
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
  private running = 0;
  private readonly waiting: (() => void)[] = [];
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
      child = spawn('containerd', ['--config', join(this.dir, 'config.toml')], {
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

  async runPod(opts: RunPodOptions): Promise<TestPod> {
    if (this.running >= RUN_POD_CONCURRENCY) await new Promise<void>((r) => this.waiting.push(r));
    this.running += 1;
    try {
      return await this.createPod(opts);
    } finally {
      this.running -= 1;
      this.waiting.shift()?.();
    }
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
    if (rec?.netnsFile) await this.removeNetnsFile(rec.netnsFile);
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

  private async removeNetnsFile(path: string): Promise<void> {
    if (!existsSync(path)) return;
    // containerd bind-mounts the netns file: unmount, then unlink.
    await execa('umount', [path], { reject: false, timeout: 10_000 });
    await unlink(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  async stop(): Promise<void> {
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

    // 2. Leftovers of a containerd that could not clean up (killed, or a failed removal).
    await this.killLeftoverShims().catch((err: unknown) => note('shims', err));
    await this.deleteRuncContainers().catch((err: unknown) => note('runc', err));
    for (const rec of this.pods.values()) {
      if (rec.netnsFile) await this.removeNetnsFile(rec.netnsFile).catch((err: unknown) => note('netns', err));
    }
    await this.removeCniResults().catch((err: unknown) => note('cni results', err));
    await this.unmountUnder(this.dir).catch((err: unknown) => note('umount', err));
    await ipLinkDelete(this.bridge).catch((err: unknown) => note('bridge', err));
    await rm(this.dir, { recursive: true, force: true }).catch((err: unknown) => note('rm dir', err));
    await rm(join(SLOTS_DIR, String(this.slot)), { recursive: true, force: true }).catch((err: unknown) => note('slot', err));
    if (errors.length) throw new Error(`containerd harness ${this.name} cleanup: ${errors.join('; ')}`);
  }

  /** Shims started for this containerd (cmdline has `-address <our socket>`): SIGKILL by PID, remove their sockets. */
  private async killLeftoverShims(): Promise<void> {
    const taskDir = join(this.dir, 'state', 'io.containerd.runtime.v2.task', 'k8s.io');
    const sockets: string[] = [];
    for (const id of await readdir(taskDir).catch(ifGone([] as string[]))) {
      const addr = await readFile(join(taskDir, id, 'address'), 'utf8').catch(ifGone(''));
      if (addr.startsWith('unix://')) sockets.push(addr.slice('unix://'.length).trim());
    }
    for (const p of await readdir('/proc')) {
      if (!/^\d+$/.test(p)) continue;
      const cmd = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(ifGone(''));
      const argv = cmd.split('\0');
      if (!argv[0]?.includes('containerd-shim')) continue;
      const i = argv.indexOf('-address');
      if (i >= 0 && argv[i + 1] === this.socket) {
        try {
          process.kill(Number(p), 'SIGKILL');
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
        }
      }
    }
    for (const s of sockets) await unlink(s).catch(ifGone(undefined));
  }

  /** Containers left in this harness's runc root: `runc delete --force` (kills their processes). */
  private async deleteRuncContainers(): Promise<void> {
    const root = join(this.dir, 'runc', 'k8s.io');
    if (!existsSync(root)) return;
    for (const id of await readdir(root)) {
      await execa('runc', ['--root', root, 'delete', '--force', id], { reject: false, timeout: 10_000 });
    }
  }

  private async removeCniResults(): Promise<void> {
    const dir = '/var/lib/cni/results';
    const prefix = `cna-${this.slot}-`;
    for (const f of await readdir(dir).catch(ifGone([] as string[]))) {
      if (f.startsWith(prefix)) await rm(join(dir, f), { force: true });
    }
  }

  /** Unmount anything still mounted under our dir (rootfs overlays of killed shims), deepest first. */
  private async unmountUnder(dir: string): Promise<void> {
    for (const m of mountsUnder(dir)) await execa('umount', ['-l', m], { reject: false, timeout: 10_000 });
  }
}

/**
 * Start a containerd for a test. Always pair with `await h.stop()` in afterAll (also on failure).
 * `name` only labels errors and the temp dir; `socket` puts the CRI socket elsewhere than its dir (e.g. a well-known
 * path under a test's host root; its directory is created, and the caller removes it).
 */
export async function startContainerd(opts: { name?: string; socket?: string } = {}): Promise<ContainerdHarness> {
  const name = opts.name ?? 'test';
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
