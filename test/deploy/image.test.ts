/**
 * The container image, built for real by scripts/build-image.sh (debootstrap base + `docker build` with the
 * legacy builder) in a dockerd of its own, then run the way daemonset.yaml runs it: --pid host, its own network
 * namespace, read-only root with tmpfs /run and /tmp, every capability dropped except the four the manifest
 * adds, no-new-privileges, Docker's default seccomp profile (what RuntimeDefault means on Docker/containerd).
 *
 * Opt-in: the build takes minutes (debootstrap ~1-2 min, npm ci twice, apt-get), so it runs only with
 * CNA_IMAGE_TEST=1 (it needs root, debootstrap, dockerd, docker and the npm registry).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDockerd, type Dockerd } from '../helpers/dockerd.js';
import { describeIntegration, uniqueName } from '../helpers/env.js';
import { addedCapabilities, packageVersion, REPO } from './deploy-files.js';
import { MALLOC_ENV, NODE_FLAGS } from '../../bin/node-flags.js';

const BUILD = join(REPO, 'scripts/build-image.sh');

describe('scripts/build-image.sh', () => {
  it('is an executable bash script with valid syntax (the build itself runs with CNA_IMAGE_TEST=1)', () => {
    expect(existsSync(BUILD)).toBe(true);
    expect(statSync(BUILD).mode & 0o111).not.toBe(0);
    expect(() => execFileSync('bash', ['-n', BUILD], { timeout: 10_000 })).not.toThrow();
  });
});

if (process.env.CNA_IMAGE_TEST === '1') {
  const OPTS = { timeout: 120_000, maxBuffer: 16 << 20, killSignal: 'SIGKILL' as const, reject: false, stdin: 'ignore' as const };
  describeIntegration('container image (CNA_IMAGE_TEST=1)', { root: true, commands: ['dockerd', 'docker', 'debootstrap', 'ip', 'iptables-legacy'] }, () => {
    const image = `chaos-node-agent:${packageVersion()}`;
    const ns = uniqueName('cnaimg');
    let dockerd: Dockerd | undefined;
    let target: ResultPromise | undefined;
    let nsCreated = false;
    let buildSeconds = 0;
    const docker = (...args: string[]) => execa('docker', args, { ...OPTS, env: { DOCKER_HOST: dockerd!.url } });
    /** docker run as the DaemonSet runs the agent; `caps` replaces the manifest's capability set. */
    const runLikeDaemonSet = (caps: string[], entrypoint: string, ...args: string[]) =>
      docker('run', '--rm', '--pid=host', '--network=none', '--read-only', '--tmpfs=/run', '--tmpfs=/tmp',
        '--cap-drop=ALL', ...caps.map((c) => `--cap-add=${c.replace(/^CAP_/, '')}`), '--security-opt=no-new-privileges',
        `--entrypoint=${entrypoint}`, image, ...args);

    beforeAll(async () => {
      dockerd = await startDockerd();
      const t0 = Date.now();
      const r = await execa('bash', [BUILD], { ...OPTS, timeout: 15 * 60_000, env: { DOCKER_HOST: dockerd.url }, all: true });
      buildSeconds = (Date.now() - t0) / 1000;
      process.stderr.write(`image build: ${buildSeconds.toFixed(0)} s\n`);
      if (r.exitCode !== 0) throw new Error(`build-image.sh failed (${r.exitCode}):\n${String(r.all).slice(-4000)}`);
      await execa('ip', ['netns', 'add', ns], { ...OPTS, reject: true });
      nsCreated = true;
      await execa('ip', ['-n', ns, 'link', 'set', 'lo', 'up'], { ...OPTS, reject: true });
      await execa('ip', ['netns', 'exec', ns, 'iptables-legacy', '-N', 'CHAOS-INPUT'], { ...OPTS, reject: true });
      await execa('ip', ['netns', 'exec', ns, 'iptables-legacy', '-A', 'CHAOS-INPUT', '-p', 'tcp', '--dport', '8080', '-j', 'DROP'], { ...OPTS, reject: true });
      target = execa('ip', ['netns', 'exec', ns, 'sleep', '600'], { stdin: 'ignore', reject: false });
    }, 16 * 60_000);

    afterAll(async () => {
      if (target?.pid) {
        target.kill('SIGKILL');
        await target;
      }
      if (nsCreated) await execa('ip', ['netns', 'del', ns], OPTS);
      await dockerd?.stop();
    }, 60_000);

    it('carries the OCI labels, runs the agent as root with `serve` by default', async () => {
      const r = await docker('image', 'inspect', '--format', '{{json .Config}}', image);
      const cfg = JSON.parse(r.stdout) as { Labels: Record<string, string>; Entrypoint: string[]; Cmd: string[]; User: string; Env: string[] };
      expect(cfg.Entrypoint).toEqual(['node', ...NODE_FLAGS, '/app/bin/chaos-node-agent.js']);
      expect(cfg.Env).toEqual(expect.arrayContaining(Object.entries(MALLOC_ENV).map(([k, v]) => `${k}=${v}`)));
      expect(cfg.Cmd).toEqual(['serve']);
      expect(cfg.User).toBe('0:0');
      expect(cfg.Labels['org.opencontainers.image.title']).toBe('chaos-node-agent');
      expect(cfg.Labels['org.opencontainers.image.version']).toBe(packageVersion());
      expect(cfg.Labels['org.opencontainers.image.licenses']).toBe('Apache-2.0');
    });

    it('holds production dependencies only', async () => {
      const r = await runLikeDaemonSet([], 'sh', '-c', 'ls /app/node_modules; ls /app/node_modules/.bin 2>/dev/null || true');
      expect(r.exitCode).toBe(0);
      // koffi's prebuilt binary comes from its optional dependency @koromix/koffi-linux-x64 (npm ci --omit=dev keeps it).
      for (const dep of ['@kubernetes', 'execa', 'koffi', '@koromix', 'pino', 'prom-client']) expect(r.stdout.split('\n')).toContain(dep);
      const koffi = await runLikeDaemonSet([], 'sh', '-c', 'ls /app/node_modules/@koromix');
      expect(koffi.stdout.split('\n')).toContain('koffi-linux-x64');
      // grpc-js and protobufjs serve only the tests' fake runtimes now (the agent has its own CRI client).
      for (const dev of ['typescript', 'vitest', 'kubernetes-models', 'autocannon', 'rolldown', '@grpc', 'protobufjs']) expect(r.stdout.split('\n')).not.toContain(dev);
    });

    it('reads a pod netns through nsenter under seccomp, read-only root and exactly the manifest\'s capabilities', async () => {
      const pid = String(target!.pid);
      const caps = addedCapabilities();
      const save = await runLikeDaemonSet(caps, 'nsenter', `--net=/proc/${pid}/ns/net`, '--', 'iptables-legacy-save', '-c');
      expect(save.exitCode, save.stderr).toBe(0);
      expect(save.stdout).toMatch(/-A CHAOS-INPUT -p tcp -m tcp --dport 8080 -j DROP/);
      const tc = await runLikeDaemonSet(caps, 'nsenter', `--net=/proc/${pid}/ns/net`, '--', 'tc', '-j', 'qdisc', 'show');
      expect(tc.exitCode, tc.stderr).toBe(0);
      expect(JSON.parse(tc.stdout)).toEqual([expect.objectContaining({ dev: 'lo', kind: 'noqueue' })]);
      const nft = await runLikeDaemonSet(caps, 'nsenter', `--net=/proc/${pid}/ns/net`, '--', 'iptables-nft-save');
      expect(nft.exitCode, nft.stderr).toBe(0);
      expect(nft.stderr).toMatch(/^# Warning: iptables-legacy tables present, use iptables-legacy-save to see them$/m);
      const without = await runLikeDaemonSet(caps.filter((c) => c !== 'CAP_SYS_ADMIN'), 'nsenter', `--net=/proc/${pid}/ns/net`, '--', 'true');
      expect(without.exitCode).not.toBe(0);
      expect(without.stderr).toMatch(/Operation not permitted/);
    });

    it('reads a pod netns with the netlink reader (koffi, setns, netlink and raw sockets) under the same envelope', async () => {
      const caps = addedCapabilities();
      const inspect = (set: string[]) => runLikeDaemonSet(set, 'node', '/app/bin/chaos-node-agent.js', 'inspect', '--reader', 'netlink', '--pid', String(target!.pid), '--json');
      type Doc = { pods: { reader: string; sources: { source: string; status: string; message?: string }[]; iptables: { backend: string; tables: { chains: { name: string; rules: { text: string }[] }[] }[] }[] }[] };
      const r = await inspect(caps);
      expect(r.exitCode === 0 || r.exitCode === 1, r.stderr).toBe(true); // 1: the verdict is not clean
      const pod = (JSON.parse(r.stdout) as Doc).pods[0]!;
      expect(pod.reader).toBe('netlink');
      expect(pod.sources.filter((x) => x.status !== 'complete')).toEqual([]);
      const legacy = pod.iptables.find((d) => d.backend === 'legacy')!;
      const chain = legacy.tables.flatMap((t) => t.chains).find((c) => c.name === 'CHAOS-INPUT')!;
      expect(chain.rules.map((x) => x.text)).toEqual(['-p tcp -m tcp --dport 8080 -j DROP']);
      // Without SYS_ADMIN, setns is refused (seccomp's default profile and the kernel agree): every source says so.
      const without = await inspect(caps.filter((c) => c !== 'CAP_SYS_ADMIN'));
      const denied = (JSON.parse(without.stdout) as Doc).pods[0]!;
      expect(denied.sources.length).toBeGreaterThan(0);
      for (const x of denied.sources) expect(x.message).toMatch(/setns: \/proc\/\d+\/ns\/net: EPERM$/);
    });

    it('serves --help with no capability on a read-only root', async () => {
      const r = await runLikeDaemonSet([], 'node', '/app/bin/chaos-node-agent.js', '--help');
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^Usage: chaos-node-agent <command> \[flags\]/);
    });
  });
}
