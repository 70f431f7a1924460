/**
 * The DaemonSet's capability set is minimal and sufficient, measured with the real tools: a real network
 * namespace holding iptables rules in both backends (IPv4 and IPv6), an ipset, tbf/htb qdiscs, an htb class and
 * a u32 filter, entered through /proc/<pid>/ns/net of processes run as root (with every capability, like a
 * container's processes compared with the agent) and as nobody, plus a root-owned 0660 unix socket like a
 * runtime's. Each command runs as uid 0 under `setpriv --no-new-privs` with the bounding set reduced to the
 * capabilities daemonset.yaml adds (read from the file): what a container with drop ALL + add [...] and
 * allowPrivilegeEscalation false gets. With the set, every command succeeds; without each capability, exactly
 * the commands that need it fail. The same for the agent's own netlink reader (the default, in-process: setns,
 * netlink and raw sockets through koffi, which needs no capability of its own), per source. `mount events` is the
 * exporter's fanotify group marking a container's mount namespace (agent/proc/mount-events.ts): without it every
 * mount table is read every collection.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeIntegration, uniqueName } from '../helpers/env.js';
import { CLI, repoRoot } from '../helpers/repo.js';
import { addedCapabilities } from './deploy-files.js';

const TOOLS = ['setpriv', 'nsenter', 'ip', 'iptables-legacy', 'iptables-nft', 'ip6tables-legacy', 'ip6tables-nft', 'ipset', 'tc', 'stat'];
// A probe cut by this timeout counts as failing: room for a loaded CI machine (5 s was not always).
const RUN_OPTS = { timeout: 30_000, maxBuffer: 1 << 20, killSignal: 'SIGKILL' as const, reject: false, stdin: 'ignore' as const };

/** The agent's mount events (fanotify_init, then a FAN_MARK_MNTNS mark on the target's /proc/<pid>/ns/mnt), compiled. */
const MOUNT_EVENTS = join(repoRoot(), 'dist', 'agent', 'proc', 'mount-events.js');
const MARK_MOUNT_NS = `const { MountEvents } = await import(process.argv[1]);
const e = MountEvents.open();
if (!(e instanceof MountEvents)) { console.error(e.unavailable); process.exit(1); }
const [t] = e.tickets([{ procRoot: '/proc', pid: Number(process.argv[2]), container: { name: 'c', id: 'c' }, timeoutMs: 1000, maxFileBytes: 1, maxMountinfoBytes: 1, jvmPorts: [] }]);
console.log(t ? 'marked' : 'not marked');`;

interface Probe {
  name: string;
  argv: string[];
  /** What the output must contain when the command succeeds. */
  expect: RegExp;
}

describeIntegration('capabilities in daemonset.yaml: minimal and sufficient', { root: true, commands: TOOLS }, () => {
  const caps = addedCapabilities();
  const ns = uniqueName('cnacap');
  const vethA = uniqueName('cca');
  const vethB = uniqueName('ccb');
  let rootTarget: ResultPromise | undefined;
  let nobodyTarget: ResultPromise | undefined;
  let sockDir = '';
  let sockPath = '';
  let server: Server | undefined;
  let nsCreated = false;

  const inNs = (...argv: string[]) => execa('ip', ['netns', 'exec', ns, ...argv], { ...RUN_OPTS, reject: true });

  beforeAll(async () => {
    await execa('ip', ['netns', 'add', ns], { ...RUN_OPTS, reject: true });
    nsCreated = true;
    await inNs('ip', 'link', 'add', vethA, 'type', 'veth', 'peer', 'name', vethB);
    await inNs('ip', 'link', 'set', vethA, 'up');
    await inNs('ip', 'link', 'set', vethB, 'up');
    // Chaos Mesh's shapes: CHAOS-* chains (legacy and nft), an ipset, a tbf chain; htb + class + u32 filter.
    await inNs('iptables-legacy', '-N', 'CHAOS-INPUT');
    await inNs('iptables-legacy', '-A', 'INPUT', '-j', 'CHAOS-INPUT');
    await inNs('iptables-legacy', '-A', 'CHAOS-INPUT', '-i', vethA, '-j', 'DROP');
    await inNs('iptables-nft', '-N', 'CHAOS-OUTPUT');
    await inNs('iptables-nft', '-A', 'OUTPUT', '-j', 'CHAOS-OUTPUT');
    await inNs('ip6tables-legacy', '-N', 'CHAOS-INPUT6');
    await inNs('ip6tables-nft', '-N', 'CHAOS-OUTPUT6');
    await inNs('ipset', 'create', 'net_cnacap_tgt', 'hash:net');
    await inNs('ipset', 'add', 'net_cnacap_tgt', '10.96.0.0/12');
    await inNs('tc', 'qdisc', 'add', 'dev', vethA, 'root', 'handle', '1:', 'tbf', 'rate', '1mbit', 'burst', '32kbit', 'latency', '400ms');
    await inNs('tc', 'qdisc', 'add', 'dev', vethB, 'root', 'handle', '1:', 'htb', 'default', '1');
    await inNs('tc', 'class', 'add', 'dev', vethB, 'parent', '1:', 'classid', '1:1', 'htb', 'rate', '1mbit');
    await inNs('tc', 'filter', 'add', 'dev', vethB, 'parent', '1:', 'protocol', 'ip', 'u32', 'match', 'ip', 'dst', '10.96.0.0/12', 'flowid', '1:1');
    // `ip netns exec` execs the command in place, so these PIDs are processes inside the namespace.
    rootTarget = execa('ip', ['netns', 'exec', ns, 'sleep', '600'], { stdin: 'ignore', reject: false });
    nobodyTarget = execa('ip', ['netns', 'exec', ns, 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'sleep', '600'], { stdin: 'ignore', reject: false });
    // A runtime-like socket: root-owned, 0660, in a 0711 directory (as /run/containerd).
    sockDir = await mkdtemp(join(tmpdir(), 'cna-capsock-'));
    await chmod(sockDir, 0o711);
    sockPath = join(sockDir, 'runtime.sock');
    server = createServer((s) => s.end('ok\n'));
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(sockPath, resolve);
    });
    await chmod(sockPath, 0o660);
    // Wait until both targets are in the namespace (their ns/net differs from ours).
    const self = (await execa('stat', ['-L', '-c', '%i', '/proc/self/ns/net'], RUN_OPTS)).stdout;
    const deadline = Date.now() + 30_000; // a deadline, not a count of tries (each try spawns two processes)
    for (const t of [rootTarget, nobodyTarget]) {
      for (;;) {
        const r = await execa('stat', ['-L', '-c', '%i', `/proc/${t.pid}/ns/net`], RUN_OPTS);
        const cmd = await execa('cat', [`/proc/${t.pid}/comm`], RUN_OPTS);
        if (r.exitCode === 0 && r.stdout !== self && cmd.stdout === 'sleep') break;
        if (Date.now() > deadline) throw new Error(`target ${t.pid} did not enter ${ns}`);
        await new Promise((res) => setTimeout(res, 20));
      }
    }
  });

  afterAll(async () => {
    for (const t of [rootTarget, nobodyTarget]) {
      if (t?.pid) {
        t.kill('SIGKILL');
        await t;
      }
    }
    if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
    if (sockDir) await rm(sockDir, { recursive: true, force: true });
    if (nsCreated) await execa('ip', ['netns', 'del', ns], RUN_OPTS);
  });

  function probes(pid: number): Probe[] {
    const enter = ['nsenter', `--net=/proc/${pid}/ns/net`, '--'];
    const connect = `const s=require('net').connect(process.argv[1]);s.on('data',d=>{process.stdout.write('connected '+d);s.end()});s.on('error',e=>{console.error(e.message);process.exit(1)})`;
    return [
      { name: 'stat /proc/<pid>/ns/net', argv: ['stat', '-L', '-c', '%i', `/proc/${pid}/ns/net`], expect: /^\d+$/ },
      { name: 'iptables-legacy-save', argv: [...enter, 'iptables-legacy-save', '-c'], expect: /-A CHAOS-INPUT -i \S+ -j DROP/ },
      { name: 'iptables-nft-save', argv: [...enter, 'iptables-nft-save', '-c'], expect: /-A OUTPUT -j CHAOS-OUTPUT/ },
      { name: 'ip6tables-legacy-save', argv: [...enter, 'ip6tables-legacy-save', '-c'], expect: /:CHAOS-INPUT6 / },
      { name: 'ip6tables-nft-save', argv: [...enter, 'ip6tables-nft-save', '-c'], expect: /:CHAOS-OUTPUT6 / },
      { name: 'ipset save', argv: [...enter, 'ipset', 'save'], expect: /add net_cnacap_tgt 10\.96\.0\.0\/12/ },
      { name: 'tc qdisc show', argv: [...enter, 'tc', '-s', '-d', '-j', 'qdisc', 'show'], expect: /"kind":"tbf"/ },
      { name: 'tc class show', argv: [...enter, 'tc', '-s', '-d', '-j', 'class', 'show', 'dev', vethB], expect: /class htb 1:1|"handle":"1:1"/ },
      { name: 'tc filter show', argv: [...enter, 'tc', '-s', '-d', '-j', 'filter', 'show', 'dev', vethB], expect: /"kind":"u32"/ },
      { name: 'nsenter --net=<netns path>', argv: ['nsenter', `--net=/run/netns/${ns}`, '--', 'tc', '-j', 'qdisc', 'show', 'dev', vethA], expect: /"kind":"tbf"/ },
      { name: 'read /proc/<pid>/root/etc', argv: ['cat', `/proc/${pid}/root/etc/os-release`], expect: /^ID=/m },
      { name: 'connect runtime socket', argv: [process.execPath, '-e', connect, sockPath], expect: /^connected ok$/ },
      { name: 'mount events', argv: [process.execPath, '--input-type=module', '-e', MARK_MOUNT_NS, MOUNT_EVENTS, String(pid)], expect: /^marked$/ },
    ];
  }

  /** Names of the probes that fail (non-zero exit or unexpected output) with exactly `set` as capabilities. */
  async function failing(set: string[], pid: number): Promise<string[]> {
    const bset = ['-all', ...set.map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`)].join(',');
    const failed: string[] = [];
    for (const p of probes(pid)) {
      const r = await execa('setpriv', ['--no-new-privs', '--inh-caps=-all', '--ambient-caps=-all', `--bounding-set=${bset}`, '--', ...p.argv], RUN_OPTS);
      if (r.exitCode !== 0 || !p.expect.test(String(r.stdout).trim())) failed.push(p.name);
    }
    return failed;
  }

  const ENTERING = ['iptables-legacy-save', 'iptables-nft-save', 'ip6tables-legacy-save', 'ip6tables-nft-save', 'ipset save', 'tc qdisc show', 'tc class show', 'tc filter show'];
  /** Exactly what breaks without each capability (measured; see README.md, "Capabilities"). */
  const NEEDS: Record<string, string[]> = {
    CAP_SYS_ADMIN: [...ENTERING, 'nsenter --net=<netns path>', 'mount events'],
    CAP_SYS_PTRACE: ['stat /proc/<pid>/ns/net', ...ENTERING, 'read /proc/<pid>/root/etc', 'mount events'],
    CAP_NET_ADMIN: ['iptables-legacy-save', 'iptables-nft-save', 'ip6tables-legacy-save', 'ip6tables-nft-save', 'ipset save'],
    CAP_NET_RAW: ['iptables-legacy-save', 'ip6tables-legacy-save'],
  };

  it('the DaemonSet adds exactly SYS_ADMIN, SYS_PTRACE, NET_ADMIN, NET_RAW', () => {
    expect([...caps].sort()).toEqual(Object.keys(NEEDS).sort());
  });

  it('with the set, every command succeeds against a root target and a nobody target', async () => {
    expect(await failing(caps, rootTarget!.pid!)).toEqual([]);
    expect(await failing(caps, nobodyTarget!.pid!)).toEqual([]);
  });

  it.each(Object.keys(NEEDS))('without %s exactly the commands that need it fail', async (cap) => {
    const without = caps.filter((c) => c !== cap);
    expect(without.length).toBe(caps.length - 1);
    expect(await failing(without, rootTarget!.pid!)).toEqual(NEEDS[cap]);
    expect(await failing(without, nobodyTarget!.pid!)).toEqual(NEEDS[cap]);
  });

  /** The agent's own netlink reader (inspect --pid, as serve reads a pod) run with exactly `set` as capabilities. */
  async function netlinkRead(set: string[], reader: 'netlink' | 'auto'): Promise<{ reader: string | null; verdict: string; failed: string[]; errors: string[]; notes: string[] }> {
    const bset = ['-all', ...set.map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`)].join(',');
    const r = await execa('setpriv', ['--no-new-privs', '--inh-caps=-all', '--ambient-caps=-all', `--bounding-set=${bset}`, '--',
      process.execPath, CLI, 'inspect', '--reader', reader, '--pid', String(rootTarget!.pid), '--json'], { ...RUN_OPTS, timeout: 30_000 });
    const pod = (JSON.parse(String(r.stdout)) as { pods: { reader?: string; chaos: { verdict: string }; sources?: { source: string; status: string; message?: string }[]; errors: string[]; notes?: string[] }[] }).pods[0]!;
    const failed = (pod.sources ?? []).filter((x) => x.status !== 'complete').map((x) => `${x.source}: ${x.message ?? x.status}`);
    return { reader: pod.reader ?? null, verdict: pod.chaos.verdict, failed, errors: pod.errors, notes: pod.notes ?? [] };
  }

  const SOURCES = ['links', 'iptables-legacy-ipv4', 'iptables-legacy-ipv6', 'iptables-nft-ipv4', 'iptables-nft-ipv6', 'nftables', 'ipset', 'tc', 'ebtables-legacy', 'ebtables-nft'];

  it('the netlink reader with the set: every source complete, no fallback (auto stays on netlink)', async () => {
    for (const mode of ['netlink', 'auto'] as const) {
      const r = await netlinkRead(caps, mode);
      expect([mode, r.reader, r.failed, r.errors]).toEqual([mode, 'netlink', [], []]);
      expect(r.verdict).toBe('active'); // the tbf and the CHAOS-INPUT DROP rule were read
    }
  });

  it('the netlink reader without each capability: exactly the part that needs it fails, reported per source', async () => {
    const without = (cap: string) => caps.filter((c) => c !== cap);
    // SYS_ADMIN: setns(2) is refused (Docker's default seccomp allows setns only with it); every source says so.
    const noAdmin = await netlinkRead(without('CAP_SYS_ADMIN'), 'netlink');
    expect(noAdmin.failed).toEqual(SOURCES.map((x) => expect.stringMatching(new RegExp(`^${x}: netlink read: setns: /proc/\\d+/ns/net: EPERM$`))));
    // ... and auto takes it as "netlink cannot work on this node": the tools, which fail the same way (nsenter).
    const noAdminAuto = await netlinkRead(without('CAP_SYS_ADMIN'), 'auto');
    expect(noAdminAuto.reader).toBe('nsenter');
    expect(noAdminAuto.failed.length).toBeGreaterThan(0);
    // Each tool fails to enter, or is not run for lack of what a failed one gives (tc without the links' interface names).
    for (const f of noAdminAuto.failed) expect(f).toMatch(/reassociate to namespace 'ns\/net' failed: Operation not permitted|bridge tables unknown|^tc: interface names unknown \(the links source failed\): tc not read$/);
    expect(noAdminAuto.failed.filter((f) => /reassociate to namespace 'ns\/net' failed: Operation not permitted/.test(f)).length).toBeGreaterThan(0);
    // SYS_PTRACE: /proc/<pid>/ns/net cannot even be looked at; the namespace is not read at all.
    const noPtrace = await netlinkRead(without('CAP_SYS_PTRACE'), 'netlink');
    expect([noPtrace.reader, noPtrace.verdict, noPtrace.errors]).toEqual([null, 'unknown', [expect.stringMatching(/^cannot stat \/proc\/\d+\/ns\/net: EACCES$/)]]);
    // NET_ADMIN: nfnetlink (nftables, ipset) answers EPERM and so does the legacy GET_INFO; rtnetlink needs nothing.
    const noNetAdmin = await netlinkRead(without('CAP_NET_ADMIN'), 'netlink');
    expect(noNetAdmin.failed).toEqual([
      'iptables-legacy-ipv4: table filter: GET_INFO filter: getsockopt: EPERM',
      'iptables-legacy-ipv6: table filter: GET_INFO filter: getsockopt: EPERM',
      'iptables-nft-ipv4: NFT_MSG_GETGEN: the kernel answered EPERM',
      'iptables-nft-ipv6: NFT_MSG_GETGEN: the kernel answered EPERM',
      'nftables: NFT_MSG_GETGEN: the kernel answered EPERM',
      'ipset: IPSET_CMD_PROTOCOL: the kernel answered EPERM',
      'ebtables-nft: nftables not read: bridge tables unknown',
    ]);
    // The tbf is read over rtnetlink, but a tbf is Chaos Mesh's only next to its CHAOS-* chains, which are in the
    // unread iptables: nothing read proves an injection, so the verdict claims nothing.
    expect(noNetAdmin.verdict).toBe('unknown');
    // NET_RAW: no raw socket, so the legacy tables (getsockopt) only.
    const noRaw = await netlinkRead(without('CAP_NET_RAW'), 'netlink');
    expect(noRaw.failed).toEqual([
      'iptables-legacy-ipv4: no ipv4 raw socket to read the legacy tables filter',
      'iptables-legacy-ipv6: no ipv6 raw socket to read the legacy tables filter',
    ]);
    expect(noRaw.notes).toEqual(expect.arrayContaining(['raw socket ipv4: raw socket ipv4: EPERM', 'raw socket ipv6: raw socket ipv6: EPERM']));
  });

  it('with no capability at all only the socket connect works (no DAC_* capability is needed)', async () => {
    const all = probes(rootTarget!.pid!).map((p) => p.name);
    expect(await failing([], rootTarget!.pid!)).toEqual(all.filter((n) => n !== 'connect runtime socket'));
  });
});
