/**
 * Replays chaos-tproxy v0.5.3's HTTPChaos network setup and teardown (Chaos Mesh >= 2.2) into a test pod namespace,
 * command by command in chaos-tproxy's order (chaos-tproxy-controller src/proxy/net/bridge.rs NetEnv::new,
 * setenv_bridge, clear_bridge; iptables.rs set_iptables, clear_ebtables). Names: p = 13 characters of a v4 UUID;
 * `<p>ns` is a NAMED namespace (/run/netns, like `ip netns add` in chaos-tproxy), recorded and always removed by
 * `destroy()`.
 * Substitutions, each because this machine cannot do the original:
 * - `arp -s IP MAC -i DEV` (net-tools) -> `ip neigh replace IP lladdr MAC dev DEV nud permanent` (the same entry);
 * - ebtables: chaos-daemon's image runs ebtables-legacy; this kernel has no legacy ebtables tables
 *   (CONFIG_BRIDGE_NF_EBTABLES_LEGACY unset), so `ebtables: 'auto'` uses ebtables-legacy when the kernel has it and
 *   ebtables-nft (the nft `bridge` family, the same rule) otherwise; the proxy namespace's `-t broute` rule exists
 *   only in legacy ebtables and is skipped without it;
 * - rtnetlink route save/restore -> `ip -j route show` before, `ip route flush table main` + `ip route add` after.
 * The side namespace gets chaos-tproxy's mangle DIVERT / TPROXY rules (iptables-legacy, as chaos-daemon's image),
 * its ip rule and table 100; no proxy process runs (nothing in it is read by the pod's reader).
 */
import { randomUUID } from 'node:crypto';
import { execa } from 'execa';

const T = 10_000;
type Exec = (argv: string[], opts?: { reject?: boolean }) => Promise<{ stdout: string; stderr: string; exitCode: number }>;

async function host(argv: string[], reject = true): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  const r = await execa(argv[0]!, argv.slice(1), { timeout: T, reject: false, stdin: 'ignore', env: { LC_ALL: 'C', PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }, extendEnv: false });
  const out = { stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), exitCode: r.exitCode ?? -1 };
  if (r.failed && reject) throw new Error(`${argv.join(' ')} failed (${r.exitCode ?? r.signal}): ${out.stderr.trim()}`, { cause: r });
  return out;
}

export interface TproxyLayout {
  prefix: string;
  bridge: string;
  veth1: string;
  veth4: string;
  netns: string;
  /** `10.244.1.7/24`: the pod address chaos-tproxy moves from eth0 to `<p>v4`. */
  ip: string;
  gateway: string;
  veth4Mac: string;
  ebtables: 'ebtables-legacy' | 'ebtables-nft';
}

interface SavedRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  scope?: string;
  prefsrc?: string;
  flags?: string[];
}

/** True when the kernel has legacy ebtables tables (probed in a throwaway named namespace). */
export async function hasLegacyEbtables(): Promise<boolean> {
  const probe = `ebtp${randomUUID().slice(0, 8)}`;
  await host(['ip', 'netns', 'add', probe]);
  try {
    return (await host(['ip', 'netns', 'exec', probe, 'ebtables-legacy', '-t', 'nat', '-L'], false)).exitCode === 0;
  } finally {
    await host(['ip', 'netns', 'del', probe], false);
  }
}

export class ChaosTproxyReplay {
  readonly prefix = randomUUID().slice(0, 13);
  private saved: SavedRoute[] = [];
  private layout: TproxyLayout | null = null;

  /** `pod.exec` runs a command inside the pod namespace (ip netns exec / nsenter). */
  constructor(private readonly pod: { exec: Exec }) {}

  private side(argv: string[]): Promise<unknown> {
    return host(['ip', 'netns', 'exec', `${this.prefix}ns`, ...argv]);
  }

  /** setenv_bridge + set_iptables. `ebtables`: which tool installs the pod's dnat rule. */
  async setup(opts: { gatewayMac: string; ebtables: 'auto' | 'ebtables-legacy' | 'ebtables-nft' }): Promise<TproxyLayout> {
    const p = this.prefix;
    const [b1, v1, v4, ns, b2] = [`${p}b1`, `${p}v1`, `${p}v4`, `${p}ns`, `${p}b2`];
    const ex = (argv: string[]) => this.pod.exec(argv);
    const eth0 = JSON.parse((await ex(['ip', '-j', 'addr', 'show', 'dev', 'eth0'])).stdout) as { addr_info: { family: string; local: string; prefixlen: number }[] }[];
    const v4addr = eth0[0]!.addr_info.find((a) => a.family === 'inet')!;
    const ip = `${v4addr.local}/${v4addr.prefixlen}`;
    const routes = JSON.parse((await ex(['ip', '-j', 'route', 'show'])).stdout) as SavedRoute[];
    this.saved = routes.reverse();
    const gateway = routes.find((r) => r.dst === 'default')?.gateway;
    if (gateway === undefined) throw new Error('the pod needs a default route via a gateway (as a CNI sets one)');
    const ebt = opts.ebtables === 'auto' ? ((await hasLegacyEbtables()) ? 'ebtables-legacy' : 'ebtables-nft') : opts.ebtables;

    await host(['ip', 'netns', 'add', ns]);
    await ex(['ip', 'link', 'add', 'name', b1, 'type', 'bridge']);
    await ex(['ip', 'link', 'add', v1, 'type', 'veth', 'peer', 'veth0', 'netns', ns]);
    await this.side(['ip', 'link', 'add', 'name', b2, 'type', 'bridge']);
    await ex(['ip', 'link', 'add', v4, 'type', 'veth', 'peer', 'veth1', 'netns', ns]);
    await ex(['ip', 'link', 'set', b1, 'up']);
    await ex(['sysctl', '-q', '-w', `net.ipv4.conf.${b1}.arp_filter=1`]);
    await ex(['ip', 'link', 'set', v1, 'up']);
    await this.side(['ip', 'link', 'set', 'veth0', 'up']);
    await this.side(['ip', 'link', 'set', b2, 'up']);
    await this.side(['ip', 'link', 'set', 'veth1', 'up']);
    await ex(['ip', 'link', 'set', v4, 'up']);
    await ex(['ip', 'link', 'set', 'eth0', 'master', b1]);
    await ex(['ip', 'link', 'set', v1, 'master', b1]);
    await this.side(['ip', 'link', 'set', 'veth0', 'master', b2]);
    await this.side(['ip', 'link', 'set', 'veth1', 'master', b2]);
    await this.side(['ip', 'link', 'set', 'lo', 'up']);
    await ex(['ip', 'address', 'del', ip, 'dev', 'eth0']);
    await ex(['ip', 'address', 'add', ip, 'dev', v4]);
    await ex(['ip', 'neigh', 'replace', gateway, 'lladdr', opts.gatewayMac, 'dev', v1, 'nud', 'permanent']);
    await ex(['ip', 'neigh', 'replace', gateway, 'lladdr', opts.gatewayMac, 'dev', v4, 'nud', 'permanent']);
    await this.side(['ip', 'neigh', 'replace', gateway, 'lladdr', opts.gatewayMac, 'dev', 'veth0', 'nud', 'permanent']);
    await this.side(['ip', 'neigh', 'replace', gateway, 'lladdr', opts.gatewayMac, 'dev', b2, 'nud', 'permanent']);
    await ex(['ip', 'route', 'add', 'default', 'via', gateway, 'dev', v4, 'proto', 'kernel', 'onlink']);
    await this.side(['ip', 'route', 'add', 'default', 'via', gateway, 'dev', b2, 'proto', 'kernel', 'onlink']);
    await this.side(['ip', 'route', 'add', `${v4addr.local}/32`, 'dev', b2, 'proto', 'kernel']);
    for (const k of ['net.ipv4.ip_forward=1', 'net.ipv4.ip_nonlocal_bind=1', `net.ipv4.conf.${b2}.rp_filter=0`, 'net.ipv4.conf.veth0.rp_filter=0',
      'net.ipv4.conf.veth1.rp_filter=0', 'net.ipv4.conf.lo.rp_filter=0', 'net.ipv4.conf.all.rp_filter=0']) {
      await this.side(['sysctl', '-q', '-w', k]);
    }
    await this.side(['ip', 'rule', 'add', 'fwmark', '1', 'lookup', '100']);
    await this.side(['ip', 'route', 'add', 'local', '0.0.0.0/0', 'dev', 'lo', 'table', '100']);
    const veth4Mac = (JSON.parse((await ex(['ip', '-j', 'link', 'show', 'dev', v4])).stdout) as { address: string }[])[0]!.address;
    await this.side(['ip', 'neigh', 'replace', v4addr.local, 'lladdr', veth4Mac, 'dev', b2, 'nud', 'permanent']);
    // Routes whose preferred source is the pod IP and that have no gateway (the subnet route now on <p>v4) are deleted.
    const now = JSON.parse((await ex(['ip', '-j', 'route', 'show'])).stdout) as SavedRoute[];
    for (const r of now) {
      if (r.prefsrc === v4addr.local && r.gateway === undefined && r.dev !== undefined) await ex(['ip', 'route', 'del', r.dst, 'dev', r.dev]);
    }
    // set_iptables: chaos-tproxy's mangle rules and ip rule live in the proxy namespace.
    await this.side(['iptables-legacy', '-w', '-t', 'mangle', '-N', 'DIVERT']);
    await this.side(['iptables-legacy', '-w', '-t', 'mangle', '-A', 'PREROUTING', '-p', 'tcp', '-m', 'socket', '-j', 'DIVERT']);
    await this.side(['iptables-legacy', '-w', '-t', 'mangle', '-A', 'DIVERT', '-j', 'MARK', '--set-mark', '1']);
    await this.side(['iptables-legacy', '-w', '-t', 'mangle', '-A', 'DIVERT', '-j', 'ACCEPT']);
    await this.side(['iptables-legacy', '-w', '-t', 'mangle', '-A', 'PREROUTING', '-p', 'tcp', '-m', 'multiport', '--dports', '80', '-j', 'TPROXY',
      '--tproxy-mark', '0x1/0x1', '--on-port', '1025']);
    if (ebt === 'ebtables-legacy') {
      await this.side(['ebtables-legacy', '-t', 'broute', '-A', 'BROUTING', '-p', 'IPv4', '--ip-proto', '6', '--ip-dport', '!', '22',
        '--ip-sport', '!', '22', '-j', 'redirect', '--redirect-target', 'DROP']);
    }
    await ex([ebt, '-t', 'nat', '-A', 'PREROUTING', '-i', 'eth0', '-j', 'dnat', '--to-dst', veth4Mac, '--dnat-target', 'ACCEPT']);
    this.layout = { prefix: p, bridge: b1, veth1: v1, veth4: v4, netns: ns, ip, gateway, veth4Mac, ebtables: ebt };
    return this.layout;
  }

  /**
   * clear_bridge: every step ignores its error, as chaos-tproxy does. `skip` leaves steps out, to replay a failed
   * teardown (`netns`: the proxy namespace is not deleted, so the veths stay; `bridge`; `address`; `ebtables`; `routes`).
   */
  async teardown(skip: Array<'netns' | 'bridge' | 'address' | 'ebtables' | 'routes'> = []): Promise<void> {
    const l = this.layout;
    if (l === null) return;
    const ex = (argv: string[]) => this.pod.exec(argv, { reject: false });
    if (!skip.includes('netns')) {
      await host(['ip', 'netns', 'delete', l.netns], false);
      // The kernel destroys the namespace (and with it the veth pairs) asynchronously: wait until the pod's ends go.
      for (let i = 0; i < 100; i++) {
        const r = await ex(['ip', 'link', 'show', 'dev', l.veth4]);
        if (r.exitCode !== 0) break;
        await new Promise((res) => setTimeout(res, 50));
      }
    }
    if (!skip.includes('bridge')) await ex(['ip', 'link', 'delete', 'dev', l.bridge, 'type', 'bridge']);
    if (!skip.includes('address')) await ex(['ip', 'address', 'add', l.ip, 'dev', 'eth0']);
    if (!skip.includes('ebtables')) await ex([l.ebtables, '-t', 'nat', '-F']);
    if (!skip.includes('routes')) {
      await ex(['ip', 'route', 'flush', 'table', 'main']);
      for (const r of this.saved) {
        const argv = ['ip', 'route', 'add', r.dst];
        if (r.gateway !== undefined) argv.push('via', r.gateway);
        if (r.dev !== undefined) argv.push('dev', r.dev);
        if (r.protocol !== undefined) argv.push('proto', r.protocol);
        if (r.scope !== undefined) argv.push('scope', r.scope);
        if (r.prefsrc !== undefined) argv.push('src', r.prefsrc);
        if (r.flags?.includes('onlink')) argv.push('onlink');
        await ex(argv);
      }
    }
  }

  /** Removes the proxy namespace if a test (or a skipped teardown step) left it. Always call in afterEach/afterAll. */
  async destroy(): Promise<void> {
    const r = await host(['ip', 'netns', 'delete', `${this.prefix}ns`], false);
    if (r.exitCode !== 0 && !/No such file|Cannot remove/.test(r.stderr)) throw new Error(`ip netns delete ${this.prefix}ns: ${r.stderr}`);
  }
}
