/**
 * Replays Chaos Mesh's chaos-daemon command sequences into a test namespace, with the same names, order and flags
 * (chaos-mesh/chaos-mesh: pkg/chaosdaemon/iptables_server.go, ipset_server.go, tc_server.go;
 * controllers/podnetworkchaos/{types.go, ipset, iptable, netutils/len.go}):
 * - every PodNetworkChaos apply = FlushIPSets, then SetIptablesChains, then SetTcs;
 * - SetIptablesChains: initializeEnv (for INPUT and OUTPUT: `-N CHAOS-X` (or it exists), `-F CHAOS-X`,
 *   `-S X` then `-A X -j CHAOS-X` when missing), then per chain `-N name`, `-F name`, one rule per ipset
 *   `-A name -o|-i DEVICE -m set --match-set SET dst,dst|src,dst -j TARGET -w 5 PROTO...` (a chain without ipsets:
 *   `-A name -o|-i DEVICE -j TARGET -w 5 PROTO...`; DEVICE `eth0` when the chain has none), then `-A CHAOS-X -j name`
 *   when missing (setIptablesChain in pkg/chaosdaemon/iptables_server.go at 608b61e);
 * - FlushIPSets: per set `ipset create <name>old TYPE` (or flush it), `ipset add <name>old MEMBER`..., then
 *   `ipset rename <name>old <name>` (or `swap` when <name> exists);
 * - SetTcs: `tc qdisc del dev eth0 root` (missing is fine), then tbf/netem chain from root handle 1:, or the
 *   filtered layout (prio with 3+N bands, sfq on bands 1-3, the qdisc at <prio>:<4+i>, and chains
 *   TC-TABLES-<i> with `-j CLASSIFY --set-class <prio>:<4+i>` jumped to from CHAOS-OUTPUT).
 *   This kernel has neither prio nor sfq: `filteredBandwidth` builds the same tree with htb classes 1:1..1:4
 *   and pfifo leaves (documented substitution), the CLASSIFY chain is exactly Chaos Mesh's.
 * - recovery re-sends empty specs: CHAOS-* flushed (jumps stay), per-experiment and TC-TABLES chains stay,
 *   ipsets stay, root qdisc deleted.
 * Chaos Mesh's image forces iptables-legacy; `backend: 'nft'` replays the same through iptables-nft.
 */
import { createHash } from 'node:crypto';
import type { TestNetns } from './netns.js';

export type Backend = 'legacy' | 'nft';

/** Port of netutils.CompressName: first 5 chars, `_`, sha256(rest) hex cut to fit, `_`, postfix. */
export function compressName(original: string, targetLength: number, postfix: string): string {
  if (original.length < 6) return `${original}_${postfix}`;
  const hash = createHash('sha256').update(original.slice(5)).digest('hex');
  return `${original.slice(0, 5)}_${hash.slice(0, targetLength - 7 - postfix.length)}_${postfix}`;
}

/** ipset.GenerateIPSetName: CompressName(name, 27, postfix) with postfix like `net_tgt`. */
export function ipsetName(experiment: string, postfix: string): string {
  return compressName(experiment, 27, postfix);
}

/** iptable.GenerateName. */
export function chainName(direction: 'INPUT' | 'OUTPUT', experiment: string): string {
  return direction === 'INPUT' ? `INPUT/${compressName(experiment, 21, '')}` : `OUTPUT/${compressName(experiment, 20, '')}`;
}

export interface IpsetSpec {
  name: string;
  type: 'hash:net' | 'hash:net,port' | 'list:set';
  members: string[];
}

export interface ChainSpec {
  name: string;
  direction: 'INPUT' | 'OUTPUT';
  ipsets: string[];
  /** DROP, or `CLASSIFY --set-class 1:4` for TC-TABLES chains. */
  target: string;
  /** pb.Chain.Device: matched `-o` (OUTPUT) or `-i` (INPUT); chaos-daemon's defaultDevice `eth0` when absent. */
  device?: string;
  /** chaos-daemon's protocolAndPort, written after `-w 5`: `--protocol tcp --destination-port 80`. */
  protocolAndPort?: string;
}

/**
 * The rules chaos-daemon's setIptablesChain writes for one chain, as it writes them (its ensureRule splits each on
 * spaces): pkg/chaosdaemon/iptables_server.go at 608b61e, `-A %s %s %s -j %s -w 5 %s` without ipsets,
 * `-A %s %s %s -m set --match-set %s %s -j %s -w 5 %s` per ipset, each strings.TrimSpace'd.
 */
export function chainRules(c: ChainSpec): string[] {
  const [iface, match] = c.direction === 'INPUT' ? ['-i', 'src,dst'] : ['-o', 'dst,dst'];
  const device = c.device || 'eth0';
  const tail = c.protocolAndPort ?? '';
  if (c.ipsets.length === 0) return [`-A ${c.name} ${iface} ${device} -j ${c.target} -w 5 ${tail}`.trim()];
  return c.ipsets.map((s) => `-A ${c.name} ${iface} ${device} -m set --match-set ${s} ${match} -j ${c.target} -w 5 ${tail}`.trim());
}

export interface PartitionSpec {
  experiment: string;
  direction: 'to' | 'from';
  /** CIDRs of the target pods / external targets. */
  cidrs: string[];
  /** `cidr,port` members of the netport_ set. */
  cidrPorts?: string[];
  device?: string;
}

export class ChaosMeshReplay {
  constructor(
    readonly ns: Pick<TestNetns, 'exec'>,
    readonly backend: Backend = 'legacy',
  ) {}

  private ipt(args: string[], reject = true) {
    return this.ns.exec([this.backend === 'legacy' ? 'iptables-legacy' : 'iptables-nft', '-w', ...args], { reject });
  }

  private async createChain(name: string, rules: string[]): Promise<void> {
    const r = await this.ipt(['-N', name], false);
    if (r.exitCode !== 0 && !r.stderr.includes('Chain already exists')) throw new Error(`iptables -N ${name}: ${r.stderr}`);
    await this.ipt(['-F', name]);
    for (const rule of rules) await this.ensureRule(name, rule);
  }

  private async ensureRule(chain: string, rule: string): Promise<void> {
    const { stdout } = await this.ipt(['-S', chain]);
    if (stdout.includes(rule)) return;
    await this.ipt(rule.split(' '));
  }

  private async initializeEnv(): Promise<void> {
    for (const d of ['INPUT', 'OUTPUT']) {
      await this.createChain(`CHAOS-${d}`, []);
      await this.ensureRule(d, `-A ${d} -j CHAOS-${d}`);
    }
  }

  /** SetIptablesChains: the whole desired chain list (empty = recovery). */
  async setIptablesChains(chains: ChainSpec[]): Promise<void> {
    await this.initializeEnv();
    for (const c of chains) {
      // HEAD matches the list:set (hash:net + hash:net,port members) on address and port: src,dst / dst,dst.
      await this.createChain(c.name, chainRules(c));
      await this.ensureRule(`CHAOS-${c.direction}`, `-A CHAOS-${c.direction} -j ${c.name}`);
    }
  }

  /** FlushIPSets: build `<name>old`, then rename (or swap) it onto `<name>`. */
  async flushIpsets(sets: IpsetSpec[]): Promise<void> {
    for (const s of sets) {
      const tmp = `${s.name}old`.slice(0, 31);
      const c = await this.ns.exec(['ipset', 'create', tmp, s.type], { reject: false });
      if (c.exitCode !== 0) {
        if (!c.stderr.includes('set with the same name already exists')) throw new Error(`ipset create ${tmp}: ${c.stderr}`);
        await this.ns.exec(['ipset', 'flush', tmp]);
      }
      for (const m of s.members) {
        const a = await this.ns.exec(['ipset', 'add', tmp, m], { reject: false });
        if (a.exitCode !== 0 && !a.stderr.includes("it's already added")) throw new Error(`ipset add ${tmp} ${m}: ${a.stderr}`);
      }
      const r = await this.ns.exec(['ipset', 'rename', tmp, s.name], { reject: false });
      if (r.exitCode !== 0) {
        if (!r.stderr.includes('a set with the new name already exists')) throw new Error(`ipset rename ${tmp}: ${r.stderr}`);
        await this.ns.exec(['ipset', 'swap', tmp, s.name]);
      }
    }
  }

  /** tcClient.flush: delete the root qdisc (a missing one is fine). */
  async flushTc(device = 'eth0'): Promise<void> {
    const r = await this.ns.exec(['tc', 'qdisc', 'del', 'dev', device, 'root'], { reject: false });
    const benign = /Cannot delete qdisc with handle of zero|No such file or directory|Invalid handle/;
    if (r.exitCode !== 0 && !benign.test(r.stderr)) throw new Error(`tc qdisc del: ${r.stderr}`);
  }

  /** The partition sets and chain for one experiment (names as the controller generates them). */
  partitionLayout(p: PartitionSpec): { sets: IpsetSpec[]; chain: ChainSpec; setName: string } {
    const role = p.direction === 'to' ? 'tgt' : 'src';
    const net = ipsetName(p.experiment, `net_${role}`);
    const netport = ipsetName(p.experiment, `netport_${role}`);
    const set = ipsetName(p.experiment, `set_${role}`);
    const dir = p.direction === 'to' ? 'OUTPUT' : 'INPUT';
    return {
      setName: set,
      sets: [
        { name: net, type: 'hash:net', members: p.cidrs },
        { name: netport, type: 'hash:net,port', members: p.cidrPorts ?? [] },
        { name: set, type: 'list:set', members: [net, netport] },
      ],
      chain: {
        name: chainName(dir, p.experiment),
        direction: dir,
        ipsets: [set],
        target: 'DROP',
        ...(p.device !== undefined ? { device: p.device } : {}),
      },
    };
  }

  /** A NetworkChaos partition: FlushIPSets, SetIptablesChains, SetTcs (no tc: flush only). */
  async partition(p: PartitionSpec): Promise<{ setName: string; chain: string; sets: string[] }> {
    const l = this.partitionLayout(p);
    await this.flushIpsets(l.sets);
    await this.setIptablesChains([l.chain]);
    await this.flushTc(p.device);
    return { setName: l.setName, chain: l.chain.name, sets: l.sets.map((s) => s.name) };
  }

  /**
   * A NetworkChaos bandwidth action without target: no sets, empty chain list, tbf at the root (with the spec's
   * optional peakrate and minburst, which tbf calls mtu).
   */
  async bandwidth(opts: { rate: number; burst: number; limit: number; peakrate?: number; mtu?: number; device?: string }): Promise<void> {
    const device = opts.device ?? 'eth0';
    await this.flushIpsets([]);
    await this.setIptablesChains([]);
    await this.flushTc(device);
    const peak = opts.peakrate ? ['peakrate', String(opts.peakrate), 'mtu', String(opts.mtu ?? 1600)] : [];
    await this.ns.exec(['tc', 'qdisc', 'add', 'dev', device, 'root', 'handle', '1:', 'tbf',
      'rate', String(opts.rate), 'burst', String(opts.burst), 'limit', String(opts.limit), ...peak]);
  }

  /**
   * Bandwidth with a target (filtered traffic control): the prio/sfq tree rebuilt with htb + pfifo (this kernel
   * lacks prio and sfq): root 1: with classes 1:1..1:3 (the three default bands, pfifo leaves 2: 3: 4:) and
   * 1:4 holding the tbf (handle 5:), plus Chaos Mesh's TC-TABLES-0 CLASSIFY chain matching the target set.
   */
  async filteredBandwidth(opts: { experiment: string; cidrs: string[]; rate: number; burst: number; limit: number; device?: string }): Promise<{ setName: string }> {
    const device = opts.device ?? 'eth0';
    const net = ipsetName(opts.experiment, 'net_batgt');
    const netport = ipsetName(opts.experiment, 'netport_batgt');
    const set = ipsetName(opts.experiment, 'set_batgt');
    await this.flushIpsets([
      { name: net, type: 'hash:net', members: opts.cidrs },
      { name: netport, type: 'hash:net,port', members: [] },
      { name: set, type: 'list:set', members: [net, netport] },
    ]);
    await this.setIptablesChains([]);
    await this.flushTc(device);
    const tc = (args: string[]) => this.ns.exec(['tc', ...args]);
    await tc(['qdisc', 'add', 'dev', device, 'root', 'handle', '1:', 'htb', 'default', '1']);
    for (let band = 1; band <= 4; band++) {
      await tc(['class', 'add', 'dev', device, 'parent', '1:', 'classid', `1:${band}`, 'htb', 'rate', '10gbit']);
    }
    for (let band = 1; band <= 3; band++) {
      await tc(['qdisc', 'add', 'dev', device, 'parent', `1:${band}`, 'handle', `${band + 1}:`, 'pfifo']);
    }
    await tc(['qdisc', 'add', 'dev', device, 'parent', '1:4', 'handle', '5:', 'tbf',
      'rate', String(opts.rate), 'burst', String(opts.burst), 'limit', String(opts.limit)]);
    await this.setIptablesChains([{ name: 'TC-TABLES-0', direction: 'OUTPUT', ipsets: [set], target: 'CLASSIFY --set-class 1:4', device }]);
    return { setName: set };
  }

  /**
   * HTTPChaos as chaos-tproxy sets it up (shared/notes/chaos-mesh.md): mangle chain DIVERT (mark 1, accept) for
   * packets of existing sockets, a TPROXY rule with mark 0x1 redirecting the target port to the proxy, and
   * `ip rule fwmark 1 lookup 100` with a local route in table 100.
   */
  async httpChaos(opts: { port: number; proxyPort: number }): Promise<void> {
    await this.ipt(['-t', 'mangle', '-N', 'DIVERT']);
    await this.ipt(['-t', 'mangle', '-A', 'DIVERT', '-j', 'MARK', '--set-mark', '1']);
    await this.ipt(['-t', 'mangle', '-A', 'DIVERT', '-j', 'ACCEPT']);
    await this.ipt(['-t', 'mangle', '-A', 'PREROUTING', '-p', 'tcp', '-m', 'socket', '-j', 'DIVERT']);
    await this.ipt(['-t', 'mangle', '-A', 'PREROUTING', '-p', 'tcp', '--dport', String(opts.port), '-j', 'TPROXY',
      '--tproxy-mark', '0x1/0x1', '--on-port', String(opts.proxyPort)]);
    await this.ns.exec(['ip', 'rule', 'add', 'fwmark', '1', 'lookup', '100']);
    await this.ns.exec(['ip', 'route', 'add', 'local', '0.0.0.0/0', 'dev', 'lo', 'table', '100']);
  }

  /**
   * HTTPChaos since Chaos Mesh 2.2, pod side (chaos-tproxy-controller src/proxy/net/bridge.rs setenv_bridge): bridge
   * `<p>b1` with `device` and the veth `<p>v1` as ports, veths `<p>v1` / `<p>v4` whose peers (`veth0`, `veth1`) live
   * in the proxy namespace `proxyNs` (a named netns), the pod address `addr` moved from `device` to `<p>v4`, and the
   * default route via `gateway` on `<p>v4` (proto kernel, onlink). `prefix` stands for the 13 UUID characters.
   */
  async tproxyBridge(opts: { prefix: string; proxyNs: string; addr: string; gateway: string; device?: string }): Promise<void> {
    const p = opts.prefix;
    const device = opts.device ?? 'eth0';
    const ip = (...a: string[]) => this.ns.exec(['ip', ...a]);
    await ip('link', 'add', 'name', `${p}b1`, 'type', 'bridge');
    await ip('link', 'add', `${p}v1`, 'type', 'veth', 'peer', 'veth0', 'netns', opts.proxyNs);
    await ip('link', 'add', `${p}v4`, 'type', 'veth', 'peer', 'veth1', 'netns', opts.proxyNs);
    for (const d of [`${p}b1`, `${p}v1`, `${p}v4`]) await ip('link', 'set', d, 'up');
    await ip('link', 'set', device, 'master', `${p}b1`);
    await ip('link', 'set', `${p}v1`, 'master', `${p}b1`);
    await ip('address', 'del', opts.addr, 'dev', device);
    await ip('address', 'add', opts.addr, 'dev', `${p}v4`);
    await ip('route', 'add', 'default', 'via', opts.gateway, 'dev', `${p}v4`, 'proto', 'kernel', 'onlink');
  }

  /** Recovery: every spec re-sent empty. */
  async recover(device = 'eth0'): Promise<void> {
    await this.flushIpsets([]);
    await this.setIptablesChains([]);
    await this.flushTc(device);
  }
}
