/**
 * A real dockerd for tests, with its own data root, exec root, pidfile and socket under a temp dir (unique per
 * call), started with --iptables=false --ip-forward=false --bridge=none so it touches no host networking.
 * Loads the registry-free busybox image and runs containers labelled the way kubelet/cri-dockerd label them.
 * stop() removes the containers, stops only this dockerd (and its managed containerd) by PID, unmounts what
 * is left under the temp dir and deletes it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream, openSync, closeSync, readFileSync, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { BUSYBOX_IMAGE, busyboxArchive } from './busybox-image.js';
import { mountsUnder } from './mounts.js';
import { uniqueName } from './names.js';

export interface ApiResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: unknown;
}

export interface PodMeta {
  namespace: string;
  name: string;
  uid: string;
}

export interface Dockerd {
  base: string;
  socket: string;
  /** unix:// URL of the socket. */
  url: string;
  pid: number;
  api(method: string, path: string, body?: unknown): Promise<ApiResult>;
  /** A pod sandbox as cri-dockerd creates it (label io.kubernetes.docker.type=podsandbox); NetworkMode none or host. */
  runSandbox(pod: PodMeta, opts?: { hostNetwork?: boolean }): Promise<string>;
  /** An app container of a pod: NetworkMode container:<sandbox>, the kubelet/cri-dockerd labels. */
  runApp(sandboxId: string, pod: PodMeta, containerName: string, opts?: { start?: boolean; cmd?: string[] }): Promise<string>;
  /** A container with no Kubernetes labels. */
  runPlain(name: string, opts?: { hostNetwork?: boolean; start?: boolean; cmd?: string[] }): Promise<string>;
  /** State.Pid from inspect. */
  pidOf(id: string): Promise<number>;
  remove(id: string): Promise<void>;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 60_000; // a loaded 2-core machine
const STOP_TIMEOUT_MS = 20_000;
/** Cap on one API response body (the helper only reads lists, inspects and short status messages). */
const MAX_RESPONSE_BYTES = 16 << 20;

function call(socket: string, method: string, path: string, body?: unknown, timeoutMs = 60_000): Promise<ApiResult> {
  return new Promise((resolve, reject) => {
    const isFile = typeof body === 'object' && body !== null && 'file' in body;
    const headers: Record<string, string> = { Host: 'docker' };
    if (isFile) headers['Content-Type'] = 'application/x-tar';
    else if (body !== undefined) headers['Content-Type'] = 'application/json';
    const req = http.request({ socketPath: socket, method, path, headers, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= MAX_RESPONSE_BYTES) {
          chunks.push(c);
          return;
        }
        const err = new Error(`${method} ${path}: response larger than ${MAX_RESPONSE_BYTES} bytes`);
        reject(err);
        req.destroy(err);
      });
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown = null;
        if (String(res.headers['content-type'] ?? '').includes('json') && text.trim()) {
          try {
            json = JSON.parse(text);
          } catch (err) {
            json = { parseError: String(err) };
          }
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out after ${timeoutMs}ms`)));
    req.on('error', reject);
    if (isFile) createReadStream((body as { file: string }).file).on('error', reject).pipe(req);
    else req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

function expectOk(what: string, r: ApiResult): ApiResult {
  if (r.status < 200 || r.status > 299) throw new Error(`${what}: HTTP ${r.status}: ${r.body.slice(0, 500)}`);
  return r;
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

/** Kill a PID only if its command line still mentions our temp dir (never a reused PID). */
function killIfOurs(pid: number, base: string): void {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (cmdline.includes(base)) process.kill(pid, 'SIGKILL');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** `socket`: where to listen instead of its temp dir (e.g. a well-known path under a test's host root; its directory
 * is created, and the caller removes it). */
export async function startDockerd(opts: { socket?: string } = {}): Promise<Dockerd> {
  const base = await mkdtemp('/tmp/cna-dkd-');
  const socket = opts.socket ?? join(base, 'docker.sock');
  await mkdir(dirname(socket), { recursive: true });
  const configFile = join(base, 'daemon.json');
  await writeFile(configFile, '{}\n');
  const ns = uniqueName('cnadk');
  const args = [
    '--config-file', configFile,
    '--data-root', join(base, 'data'),
    '--exec-root', join(base, 'exec'),
    '--pidfile', join(base, 'dockerd.pid'),
    '--host', `unix://${socket}`,
    '--iptables=false',
    '--ip-forward=false',
    '--ip-masq=false',
    '--bridge=none',
    '--shutdown-timeout=1',
    '--containerd-namespace', ns,
    '--containerd-plugins-namespace', `${ns}p`,
    '--log-level', 'warn',
  ];
  const logFd = openSync(join(base, 'dockerd.log'), 'a');
  let child: ChildProcess;
  try {
    child = spawn('dockerd', args, { stdio: ['ignore', logFd, logFd], cwd: base });
  } finally {
    closeSync(logFd);
  }
  // Without a listener a failed spawn (ENOENT, EAGAIN) would be an uncaught 'error' crashing the test process.
  let spawnError: Error | null = null;
  child.on('error', (err) => {
    spawnError = err;
  });
  const pid = child.pid;
  const logTail = async (): Promise<string> => (await readFile(join(base, 'dockerd.log'), 'utf8').catch((e: unknown) => String(e))).slice(-2000);

  const stop = async (): Promise<void> => {
    // A child that never spawned (no pid) never emits 'exit': nothing to wait for.
    if (child.pid !== undefined && !exited(child)) {
      // Containers first: dockerd waits for them on shutdown.
      try {
        const list = await call(socket, 'GET', '/containers/json?all=1', undefined, 10_000);
        for (const c of (list.json as Array<{ Id: string }> | null) ?? []) {
          await call(socket, 'DELETE', `/containers/${c.Id}?force=1&v=1`, undefined, 15_000);
        }
      } catch (err) {
        process.stderr.write(`dockerd helper: removing containers failed: ${String(err)}\n`);
      }
      child.kill('SIGTERM');
      if (!(await waitExit(child, STOP_TIMEOUT_MS))) {
        child.kill('SIGKILL');
        await waitExit(child, 5000);
      }
    }
    // A managed containerd left behind by a killed dockerd.
    const ctrPidFile = join(base, 'exec/containerd/containerd.pid');
    if (existsSync(ctrPidFile)) {
      const ctrPid = Number(readFileSync(ctrPidFile, 'utf8').trim());
      if (Number.isInteger(ctrPid) && ctrPid > 0) killIfOurs(ctrPid, base);
    }
    for (const mp of mountsUnder(base)) {
      await execa('umount', ['-l', mp], { timeout: 10_000, reject: false });
    }
    await rm(base, { recursive: true, force: true });
  };

  if (pid === undefined) {
    await stop();
    // 'error' is emitted on the next tick after a failed spawn.
    await new Promise<void>((r) => setImmediate(r));
    throw new Error(`dockerd: spawn failed: ${(spawnError as Error | null)?.message ?? 'no pid'}`, { cause: spawnError });
  }
  try {
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (exited(child)) throw new Error(`dockerd exited (${child.exitCode ?? child.signalCode}): ${await logTail()}`);
      const ok = await call(socket, 'GET', '/_ping', undefined, 2000).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`dockerd not ready after ${START_TIMEOUT_MS}ms: ${await logTail()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const archive = await busyboxArchive();
    expectOk('load image', await call(socket, 'POST', '/images/load?quiet=1', { file: archive }));
  } catch (err) {
    await stop();
    throw err;
  }

  const api = (method: string, path: string, body?: unknown): Promise<ApiResult> => call(socket, method, path, body);

  /** `cmd`: the container's command (default `sleep 3600`). */
  const create = async (name: string, labels: Record<string, string>, networkMode: string, start = true, cmd = ['sleep', '3600']): Promise<string> => {
    const r = expectOk(
      `create ${name}`,
      await api('POST', `/containers/create?name=${encodeURIComponent(name)}`, {
        Image: BUSYBOX_IMAGE,
        Cmd: cmd,
        Labels: labels,
        HostConfig: { NetworkMode: networkMode },
      }),
    );
    const id = (r.json as { Id: string }).Id;
    if (start) expectOk(`start ${name}`, await api('POST', `/containers/${id}/start`));
    return id;
  };

  const podLabels = (pod: PodMeta): Record<string, string> => ({
    'io.kubernetes.pod.namespace': pod.namespace,
    'io.kubernetes.pod.name': pod.name,
    'io.kubernetes.pod.uid': pod.uid,
  });

  return {
    base,
    socket,
    url: `unix://${socket}`,
    pid,
    api,
    runSandbox: (pod, opts) =>
      create(
        `k8s_POD_${pod.name}_${pod.namespace}_${pod.uid}_0`,
        { ...podLabels(pod), 'io.kubernetes.docker.type': 'podsandbox' },
        opts?.hostNetwork ? 'host' : 'none',
      ),
    runApp: (sandboxId, pod, containerName, opts) =>
      create(
        `k8s_${containerName}_${pod.name}_${pod.namespace}_${pod.uid}_0`,
        {
          ...podLabels(pod),
          'io.kubernetes.docker.type': 'container',
          'io.kubernetes.sandbox.id': sandboxId,
          'io.kubernetes.container.name': containerName,
        },
        `container:${sandboxId}`,
        opts?.start ?? true,
        opts?.cmd,
      ),
    runPlain: (name, opts) => create(name, {}, opts?.hostNetwork ? 'host' : 'none', opts?.start ?? true, opts?.cmd),
    pidOf: async (id) => {
      const r = expectOk(`inspect ${id}`, await api('GET', `/containers/${id}/json`));
      return (r.json as { State: { Pid: number } }).State.Pid;
    },
    remove: async (id) => {
      expectOk(`remove ${id}`, await api('DELETE', `/containers/${id}?force=1&v=1`));
    },
    stop,
  };
}
