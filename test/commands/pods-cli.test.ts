/**
 * The `pods` and `runtimes` commands through the package's bin (node bin/chaos-node-agent.js -> dist/), against a
 * real dockerd. dist/ is rebuilt in beforeAll when any agent/*.ts is newer than its compiled file (`npm test`
 * builds first, so under CI this is a no-op).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDockerd, type Dockerd } from '../helpers/dockerd.js';
import { describeIntegration } from '../helpers/env.js';
import { LOADED_MACHINE_DEADLINES } from '../helpers/serve.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(REPO, 'bin/chaos-node-agent.js');

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

let built: Promise<void> | null = null;
/** Compile dist/ (once per file) when it is missing or older than any agent source. */
function ensureBuilt(): Promise<void> {
  built ??= build();
  return built;
}

async function build(): Promise<void> {
  const stale = tsFiles(join(REPO, 'agent')).some((src) => {
    const out = join(REPO, 'dist', relative(REPO, src).replace(/\.ts$/, '.js'));
    return !existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs;
  });
  if (!stale) return;
  const r = await execa('node', [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], {
    cwd: REPO,
    reject: false,
    timeout: 180_000,
  });
  // tsc emits even when other files have type errors; what matters is that the CLI's files are there.
  for (const f of ['dist/agent/cli.js', 'dist/agent/commands/pods.js', 'dist/agent/commands/runtimes.js', 'dist/agent/runtime/inventory.js']) {
    if (!existsSync(join(REPO, f))) throw new Error(`build did not produce ${f}: ${r.stdout.slice(0, 2000)}`);
  }
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the CLI with a clean environment (no DOCKER_HOST / CONTAINER_RUNTIME_ENDPOINT / CHAOS_AGENT_* leaking in). */
async function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const r = await execa('node', [BIN, ...args], {
    cwd: REPO,
    reject: false,
    timeout: 30_000,
    extendEnv: false,
    stripFinalNewline: false,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
  });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

const netnsIno = (pid: number): number => statSync(`/proc/${pid}/ns/net`).ino;

describe('CLI usage errors and nothing reachable (no daemon needed)', () => {
  let empty: string;
  beforeAll(async () => {
    await ensureBuilt();
    empty = await mkdtemp(join(tmpdir(), 'cna-cli-empty-'));
  }, 200_000);
  afterAll(async () => {
    if (empty) await rm(empty, { recursive: true, force: true });
  });

  it('exit 2 on an unknown flag and on a non-unix endpoint', async () => {
    const a = await cli(['pods', '--bogus']);
    expect(a).toEqual({ code: 2, stdout: '', stderr: 'chaos-node-agent: unknown flag --bogus (see --help)\n' });
    const b = await cli(['runtimes', '--docker-endpoint', 'tcp://127.0.0.1:2375']);
    expect(b.code).toBe(2);
    expect(b.stderr).toBe('chaos-node-agent: --docker-endpoint: only unix:// endpoints with an absolute path are supported, got "tcp://127.0.0.1:2375"\n');
  });

  it('pods: exit 1 when discovery finds nothing; the message lists every endpoint tried and why', async () => {
    const r = await cli(['pods', '--host-root', empty]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      [
        'chaos-node-agent pods: no container runtime reachable; tried:',
        `  unix:///run/containerd/containerd.sock (cri): containerd: no socket at /run/containerd/containerd.sock (${empty}/run/containerd/containerd.sock)`,
        `  unix:///run/k3s/containerd/containerd.sock (cri): k3s: no socket at /run/k3s/containerd/containerd.sock (${empty}/run/k3s/containerd/containerd.sock)`,
        `  unix:///var/run/crio/crio.sock (cri): cri-o: no socket at /var/run/crio/crio.sock (${empty}/var/run/crio/crio.sock)`,
        `  unix:///run/crio/crio.sock (cri): cri-o: no socket at /run/crio/crio.sock (${empty}/run/crio/crio.sock)`,
        `  unix:///var/run/cri-dockerd.sock (cri): cri-dockerd: no socket at /var/run/cri-dockerd.sock (${empty}/var/run/cri-dockerd.sock)`,
        `  unix:///var/run/docker.sock (docker): docker: no socket at /var/run/docker.sock (${empty}/var/run/docker.sock)`,
        '',
      ].join('\n'),
    );
  });

  it('runtimes --json: exit 1 with the endpoint down in the JSON and named on stderr', async () => {
    const sock = join(empty, 'nope.sock');
    const r = await cli(['runtimes', '--json', '--docker-endpoint', `unix://${sock}`]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual({
      runtimes: [
        {
          endpoint: `unix://${sock}`,
          protocol: 'docker',
          runtime: null,
          version: null,
          apiVersion: null,
          up: false,
          error: `unix://${sock} GET /_ping: connect ENOENT ${sock}`,
        },
      ],
    });
    expect(r.stderr).toBe(
      `chaos-node-agent runtimes: no container runtime reachable; tried:\n  unix://${sock} (docker): unix://${sock} GET /_ping: connect ENOENT ${sock}\n`,
    );
  });
});

describeIntegration('pods and runtimes CLI against a real dockerd', { root: true, commands: ['dockerd'] }, () => {
  let d: Dockerd;
  const shop = { namespace: 'shop', name: 'cart', uid: 'uid-cart-7' };
  const node = { namespace: 'kube-system', name: 'node-agent', uid: 'uid-node-7' };
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    const [dockerd] = await Promise.all([startDockerd(), ensureBuilt()]);
    d = dockerd;
    ids.shopSb = await d.runSandbox(shop);
    ids.shopApp = await d.runApp(ids.shopSb, shop, 'main');
    ids.nodeSb = await d.runSandbox(node, { hostNetwork: true });
    ids.plain = await d.runPlain('standalone');
    ids.created = await d.runPlain('never-started', { start: false });
  }, 200_000);

  afterAll(async () => {
    await d?.stop();
  });

  it('pods --json: the exact documented shape, sorted by namespace/name', async () => {
    const r = await cli(['pods', '--json', '--docker-endpoint', d.url, ...LOADED_MACHINE_DEADLINES]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [shopPid, appPid, nodePid, plainPid] = await Promise.all([ids.shopSb!, ids.shopApp!, ids.nodeSb!, ids.plain!].map((id) => d.pidOf(id)));
    const common = { runtime: 'docker', endpoint: d.url };
    expect(JSON.parse(r.stdout)).toEqual({
      pods: [
        {
          namespace: '',
          name: 'never-started',
          uid: '',
          ...common,
          sandboxId: ids.created,
          state: 'SANDBOX_NOTREADY',
          pid: null,
          hostNetwork: false,
          netns: null,
          reason: 'container is created',
          containers: [{ id: ids.created, name: 'never-started', state: 'CONTAINER_CREATED', pid: null }],
        },
        {
          namespace: '',
          name: 'standalone',
          uid: '',
          ...common,
          sandboxId: ids.plain,
          state: 'SANDBOX_READY',
          pid: plainPid,
          hostNetwork: false,
          netns: { inode: netnsIno(plainPid!), path: `/proc/${plainPid}/ns/net` },
          containers: [{ id: ids.plain, name: 'standalone', state: 'CONTAINER_RUNNING', pid: plainPid }],
        },
        {
          ...node,
          ...common,
          sandboxId: ids.nodeSb,
          state: 'SANDBOX_READY',
          pid: nodePid,
          hostNetwork: true,
          netns: { inode: netnsIno(d.pid), path: `/proc/${nodePid}/ns/net` },
          containers: [],
        },
        {
          ...shop,
          ...common,
          sandboxId: ids.shopSb,
          state: 'SANDBOX_READY',
          pid: shopPid,
          hostNetwork: false,
          netns: { inode: netnsIno(shopPid!), path: `/proc/${shopPid}/ns/net` },
          containers: [{ id: ids.shopApp, name: 'main', state: 'CONTAINER_RUNNING', pid: appPid }],
        },
      ],
    });
    // Key order is part of the contract (diff-friendly output).
    expect(Object.keys(JSON.parse(r.stdout).pods[1])).toEqual([
      'namespace', 'name', 'uid', 'runtime', 'endpoint', 'sandboxId', 'state', 'pid', 'hostNetwork', 'netns', 'containers',
    ]);
  });

  it('DOCKER_HOST is honoured; the human table has one line per pod', async () => {
    const r = await cli(['pods', ...LOADED_MACHINE_DEADLINES], { DOCKER_HOST: d.url });
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]!.split(/\s{2,}/)).toEqual(['NAMESPACE', 'NAME', 'RUNTIME', 'STATE', 'PID', 'NETNS', 'CONTAINERS', 'SANDBOX', 'NOTE']);
    expect(lines.slice(1).map((l) => l.split(/\s{2,}/).slice(0, 4))).toEqual([
      ['-', 'never-started', 'docker', 'NOTREADY'],
      ['-', 'standalone', 'docker', 'READY'],
      ['kube-system', 'node-agent', 'docker', 'READY'],
      ['shop', 'cart', 'docker', 'READY'],
    ]);
    expect(lines[1]).toContain('container is created');
    expect(lines[3]).toContain('hostNetwork');
  });

  it('inspect and diff find a container without Kubernetes labels as /NAME or -/NAME (as inspect and pods print it)', async () => {
    const flags = ['--docker-endpoint', d.url, '--kube', 'off', ...LOADED_MACHINE_DEADLINES];
    const plainPid = await d.pidOf(ids.plain!);
    // Both forms name the same pod: one entry.
    const r = await cli(['inspect', '/standalone', '-/standalone', '--json', ...flags]);
    expect([r.code, r.stderr]).toEqual([0, '']);
    const pods = (JSON.parse(r.stdout) as { pods: { namespace: string; name: string; runtime: string; netns: { inode: number } | null; errors: string[] }[] }).pods;
    expect(pods.map((p) => [p.namespace, p.name, p.runtime, p.netns?.inode, p.errors])).toEqual([['', 'standalone', 'docker', netnsIno(plainPid), []]]);
    const human = await cli(['inspect', '-/standalone', ...flags]);
    expect(human.code).toBe(0);
    expect(human.stdout.split('\n')[0]).toBe(`pod /standalone (docker)  netns inode ${netnsIno(plainPid)} /proc/${plainPid}/ns/net`);
    const diff = await cli(['diff', '/standalone', ...flags]);
    expect([diff.code, diff.stderr]).toEqual([0, '']);
    const missing = await cli(['diff', '/nope', ...flags]);
    expect([missing.code, missing.stderr]).toEqual([1, 'chaos-node-agent diff: pod /nope (no namespace) not found on this node\n']);
    const dots = await cli(['inspect', '/..', ...flags]);
    expect([dots.code, dots.stderr]).toEqual([2, 'chaos-node-agent: inspect: ".." is not a pod name (in "/..")\n']);
  });

  it('inspect: a sandbox killed and started again (a new namespace) with its app left in the old one says so, never clean', async () => {
    const pod = { namespace: 'shop', name: 'restarted', uid: 'uid-restarted-7' };
    const sb = await d.runSandbox(pod);
    const app = await d.runApp(sb, pod, 'main');
    const appPid = await d.pidOf(app);
    const old = netnsIno(appPid);
    expect((await d.api('POST', `/containers/${sb}/kill`)).status).toBe(204);
    await d.api('POST', `/containers/${sb}/wait`);
    expect((await d.api('POST', `/containers/${sb}/start`)).status).toBe(204);
    const fresh = netnsIno(await d.pidOf(sb));
    expect(fresh).not.toBe(old);
    expect(netnsIno(appPid)).toBe(old);
    const note = `container main (pid ${appPid}) is in another network namespace (net:[${old}]) than its sandbox's (net:[${fresh}]): not read`;
    const flags = ['--docker-endpoint', d.url, '--kube', 'off', ...LOADED_MACHINE_DEADLINES];
    const r = await cli(['inspect', 'shop/restarted', '--json', ...flags]);
    expect(r.stderr).toBe('');
    const [entry] = (JSON.parse(r.stdout) as { pods: { netns: { inode: number }; chaos: { verdict: string }; notes?: string[]; errors: string[] }[] }).pods;
    expect([entry!.netns.inode, entry!.chaos.verdict, entry!.notes, entry!.errors]).toEqual([fresh, 'unknown', [note], [note]]);
    const human = await cli(['inspect', 'shop/restarted', ...flags]);
    expect(human.stdout).toContain('  verdict: unknown\n');
    expect(human.stdout).toContain(`  note: ${note}\n`);
    await d.remove(app);
    await d.remove(sb);
  });

  it('runtimes --json: the live engine up and a missing one down, exit 0', async () => {
    const missing = join(d.base, 'missing.sock');
    const r = await cli(['runtimes', '--json', '--docker-endpoint', d.url, '--docker-endpoint', `unix://${missing}`, ...LOADED_MACHINE_DEADLINES]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const version = ((await d.api('GET', '/version')).json as { Version: string }).Version;
    expect(JSON.parse(r.stdout)).toEqual({
      runtimes: [
        { endpoint: d.url, protocol: 'docker', runtime: 'docker', version, apiVersion: '1.41', up: true, error: null },
        {
          endpoint: `unix://${missing}`,
          protocol: 'docker',
          runtime: null,
          version: null,
          apiVersion: null,
          up: false,
          error: `unix://${missing} GET /_ping: connect ENOENT ${missing}`,
        },
      ],
    });
    const human = await cli(['runtimes', '--docker-endpoint', d.url, ...LOADED_MACHINE_DEADLINES]);
    expect(human.code).toBe(0);
    const lines = human.stdout.trimEnd().split('\n');
    expect(lines.map((l) => l.split(/\s{2,}/))).toEqual([
      ['ENDPOINT', 'PROTOCOL', 'RUNTIME', 'VERSION', 'API', 'STATUS'],
      [d.url, 'docker', 'docker', version, '1.41', 'up'],
    ]);
  });
});
