/**
 * Rule sets the legacy differential tests apply to real namespaces: what Chaos Mesh injects (replayed with
 * ChaosMeshReplay), kube-proxy / CNI / Docker / Istio / Linkerd style rules, and edge cases of the save format
 * (quoting, interfaces with `+`, masks, inversions, every decoded extension). Restore texts are fed to
 * iptables-legacy-restore / ip6tables-legacy-restore with -c so counters are non-zero.
 */
import { ChaosMeshReplay } from '../../../helpers/chaos-mesh.js';
import type { TestNetns } from '../../../helpers/netns.js';

export interface Scenario {
  name: string;
  /** Families to compare after applying. */
  families: ('ipv4' | 'ipv6')[];
  apply(ns: TestNetns): Promise<void>;
}

/** The iptables backend a scenario is applied through (the nftables reader's tests replay the corpus with `nft`). */
type Backend = 'legacy' | 'nft';

/** iptables-nft cannot express `! -s 0/0` (a zero-length payload: the kernel answers EINVAL); left out for nft. */
const forBackend = (text: string, backend: Backend): string =>
  backend === 'legacy' ? text : text.split('\n').filter((l) => !/ ! -s (0\.0\.0\.0|::)\/0 /.test(l)).join('\n');

const restore = (family: 'ipv4' | 'ipv6', text: string, backend: Backend) => async (ns: TestNetns): Promise<void> => {
  await ns.exec([`${family === 'ipv4' ? 'iptables' : 'ip6tables'}-${backend}-restore`, '-c'], { input: forBackend(text, backend) });
};

const both = (v4: string, v6: string, backend: Backend) => async (ns: TestNetns): Promise<void> => {
  await restore('ipv4', v4, backend)(ns);
  await restore('ipv6', v6, backend)(ns);
};

export const KUBE_PROXY_NAT = `*nat
:PREROUTING ACCEPT [1500:90000]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [2500:150000]
:POSTROUTING ACCEPT [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-SEP-6E7XQMQ4RAYOWTTM - [0:0]
:KUBE-SEP-ZP3FB6NMPNCO4VBJ - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-SVC-TCOU7JCQXEZGVUNU - [0:0]
[1500:90000] -A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
[2500:150000] -A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
-A KUBE-SEP-6E7XQMQ4RAYOWTTM -s 10.244.0.3/32 -m comment --comment "kube-system/kube-dns:dns" -j KUBE-MARK-MASQ
-A KUBE-SEP-6E7XQMQ4RAYOWTTM -p udp -m comment --comment "kube-system/kube-dns:dns" -m udp -j DNAT --to-destination 10.244.0.3:53
-A KUBE-SEP-ZP3FB6NMPNCO4VBJ -s 10.244.0.4/32 -m comment --comment "kube-system/kube-dns:dns" -j KUBE-MARK-MASQ
-A KUBE-SEP-ZP3FB6NMPNCO4VBJ -p udp -m comment --comment "kube-system/kube-dns:dns" -m udp -j DNAT --to-destination 10.244.0.4:53
[40:2400] -A KUBE-SERVICES -d 10.96.0.10/32 -p udp -m comment --comment "kube-system/kube-dns:dns cluster IP" -m udp --dport 53 -j KUBE-SVC-TCOU7JCQXEZGVUNU
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A KUBE-SVC-TCOU7JCQXEZGVUNU ! -s 10.244.0.0/16 -d 10.96.0.10/32 -p udp -m comment --comment "kube-system/kube-dns:dns cluster IP" -m udp --dport 53 -j KUBE-MARK-MASQ
-A KUBE-SVC-TCOU7JCQXEZGVUNU -m comment --comment "kube-system/kube-dns:dns -> 10.244.0.3:53" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-6E7XQMQ4RAYOWTTM
-A KUBE-SVC-TCOU7JCQXEZGVUNU -m comment --comment "kube-system/kube-dns:dns -> 10.244.0.4:53" -j KUBE-SEP-ZP3FB6NMPNCO4VBJ
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [7:420]
:OUTPUT ACCEPT [0:0]
:KUBE-FIREWALL - [0:0]
:KUBE-FORWARD - [0:0]
-A INPUT -j KUBE-FIREWALL
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -p tcp -m multiport --sports 1000:2000,3000 -g KUBE-FIREWALL
COMMIT
`;

export const CNI_DOCKER = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:CNI-4a1b2c3d4e5f60718293a4b5 - [0:0]
:CNI-HOSTPORT-DNAT - [0:0]
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-A POSTROUTING -s 10.244.1.7/32 -m comment --comment "name: \\"cbr0\\" id: \\"0123456789abcdef\\"" -j CNI-4a1b2c3d4e5f60718293a4b5
-A CNI-4a1b2c3d4e5f60718293a4b5 -d 10.244.1.0/24 -m comment --comment "name: \\"cbr0\\" id: \\"0123456789abcdef\\"" -j ACCEPT
-A CNI-4a1b2c3d4e5f60718293a4b5 ! -d 224.0.0.0/4 -m comment --comment "name: \\"cbr0\\" id: \\"0123456789abcdef\\"" -j MASQUERADE
-A DOCKER -i docker0 -j RETURN
-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:CNI-FORWARD - [0:0]
:DOCKER - [0:0]
:DOCKER-ISOLATION-STAGE-1 - [0:0]
:DOCKER-USER - [0:0]
-A FORWARD -j DOCKER-USER
-A FORWARD -j DOCKER-ISOLATION-STAGE-1
-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -o docker0 -j DOCKER
-A FORWARD -i docker0 ! -o docker0 -j ACCEPT
-A FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD
-A CNI-FORWARD -d 10.244.1.7/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A CNI-FORWARD -s 10.244.1.7/32 -j ACCEPT
-A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT
-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j RETURN
-A DOCKER-ISOLATION-STAGE-1 -j RETURN
-A DOCKER-USER -j RETURN
COMMIT
`;

const ISTIO_V4 = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:ISTIO_INBOUND - [0:0]
:ISTIO_IN_REDIRECT - [0:0]
:ISTIO_OUTPUT - [0:0]
:ISTIO_REDIRECT - [0:0]
[12:720] -A PREROUTING -p tcp -j ISTIO_INBOUND
[30:1800] -A OUTPUT -p tcp -j ISTIO_OUTPUT
-A ISTIO_INBOUND -p tcp -m tcp --dport 15008 -j RETURN
-A ISTIO_INBOUND -p tcp -m tcp --dport 15090 -j RETURN
-A ISTIO_INBOUND -p tcp -m tcp --dport 15021 -j RETURN
-A ISTIO_INBOUND -p tcp -m tcp --dport 15020 -j RETURN
-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT
-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
-A ISTIO_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN
-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -p tcp -m tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
-A ISTIO_OUTPUT -j ISTIO_REDIRECT
-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
COMMIT
*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:ISTIO_DIVERT - [0:0]
:ISTIO_INBOUND - [0:0]
:ISTIO_TPROXY - [0:0]
-A PREROUTING -p tcp -j ISTIO_INBOUND
-A PREROUTING -p tcp -m mark --mark 0x539 -j CONNMARK --save-mark --nfmask 0xffffffff --ctmask 0xffffffff
-A OUTPUT -p tcp -m connmark --mark 0x539 -j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff
-A ISTIO_DIVERT -j MARK --set-xmark 0x539/0xffffffff
-A ISTIO_DIVERT -j ACCEPT
-A ISTIO_INBOUND -p tcp -m tcp --dport 15008 -j RETURN
-A ISTIO_INBOUND -p tcp -m socket --transparent -j ISTIO_DIVERT
-A ISTIO_INBOUND -p tcp -m conntrack --ctstate RELATED,ESTABLISHED -j ISTIO_DIVERT
-A ISTIO_INBOUND -p tcp -j ISTIO_TPROXY
-A ISTIO_TPROXY ! -d 127.0.0.1/32 -p tcp -j TPROXY --on-port 15006 --on-ip 0.0.0.0 --tproxy-mark 0x539/0xffffffff
COMMIT
`;

const ISTIO_V6 = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:ISTIO_INBOUND - [0:0]
:ISTIO_IN_REDIRECT - [0:0]
:ISTIO_OUTPUT - [0:0]
:ISTIO_REDIRECT - [0:0]
-A PREROUTING -p tcp -j ISTIO_INBOUND
-A OUTPUT -p tcp -j ISTIO_OUTPUT
-A ISTIO_INBOUND -p tcp -m tcp --dport 15008 -j RETURN
-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT
-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
-A ISTIO_OUTPUT -s ::6/128 -o lo -j RETURN
-A ISTIO_OUTPUT ! -d ::1/128 -o lo -p tcp -m tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -d ::1/128 -j RETURN
-A ISTIO_OUTPUT -j ISTIO_REDIRECT
-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
COMMIT
*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:ISTIO_TPROXY - [0:0]
-A PREROUTING -p tcp -j ISTIO_TPROXY
-A ISTIO_TPROXY ! -d ::1/128 -p tcp -j TPROXY --on-port 15006 --on-ip ::1 --tproxy-mark 0x539/0xffffffff
COMMIT
`;

const LINKERD = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:PROXY_INIT_OUTPUT - [0:0]
:PROXY_INIT_REDIRECT - [0:0]
-A PREROUTING -m comment --comment "proxy-init/install-proxy-init-prerouting" -j PROXY_INIT_REDIRECT
-A OUTPUT -m comment --comment "proxy-init/install-proxy-init-output" -j PROXY_INIT_OUTPUT
-A PROXY_INIT_OUTPUT -m owner --uid-owner 2102 -m comment --comment "proxy-init/ignore-proxy-user-id" -j RETURN
-A PROXY_INIT_OUTPUT -o lo -m comment --comment "proxy-init/ignore-loopback" -j RETURN
-A PROXY_INIT_OUTPUT -p tcp -m multiport --dports 4567,4568 -m comment --comment "proxy-init/ignore-port-4567,4568" -j RETURN
-A PROXY_INIT_OUTPUT -p tcp -m comment --comment "proxy-init/redirect-all-outgoing-to-proxy-port" -j REDIRECT --to-ports 4140
-A PROXY_INIT_REDIRECT -p tcp -m multiport --dports 4190,4191,4567,4568 -m comment --comment "proxy-init/ignore-port-4190,4191,4567,4568" -j RETURN
-A PROXY_INIT_REDIRECT -p tcp -m comment --comment "proxy-init/redirect-all-incoming-to-proxy-port" -j REDIRECT --to-ports 4143
COMMIT
`;

const LONG = 'x'.repeat(255);
const LONG_SPACED = `${'a b '.repeat(63)}abc`;

/** The save format's corners and every decoder the legacy reader uses. */
const EDGES_V4 = `*filter
:INPUT DROP [5:300]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [9:540]
:A-CHAIN - [0:0]
:Z/last_chain-with.dots - [0:0]
:lower - [0:0]
[3:180] -A INPUT -i eth+ -m comment --comment "say \\"hi\\" it's # \\\\ done" -j ACCEPT
-A INPUT ! -i veth+ -s 10.1.0.0/255.255.0.255 -m comment --comment ${LONG} -j A-CHAIN
-A INPUT -i abcdefghijklmno -m comment --comment "${LONG_SPACED}" -j ACCEPT
-A INPUT -m comment --comment "café ☕ — ünïcode" -m mac --mac-source AA:BB:CC:00:11:22 -j ACCEPT
-A INPUT ! -s 0.0.0.0/0 -p 47 -j DROP
-A INPUT -p 200 -j DROP
-A INPUT -p mptcp -j DROP
-A INPUT -f -p udp -m udp --sport 1:1024 ! --dport 53 -j LOG --log-prefix "frag'd: " --log-level 7 --log-tcp-options --log-ip-options
-A INPUT ! -f -p icmp -m icmp --icmp-type 3/4 -m limit --limit 10/sec --limit-burst 20 -j ACCEPT
-A INPUT -p icmp -m icmp ! --icmp-type any -m pkttype --pkt-type broadcast -j DROP
-A INPUT -p tcp -m tcp ! --sport 80:90 --tcp-option 2 ! --tcp-flags FIN,SYN,RST,ACK SYN -j REJECT --reject-with tcp-reset
-A INPUT -m addrtype ! --src-type UNICAST,BROADCAST --dst-type LOCAL --limit-iface-in -j ACCEPT
-A FORWARD -m physdev --physdev-in veth+ ! --physdev-out eth0 --physdev-is-bridged -j ACCEPT
-A FORWARD -m conntrack --ctproto 6 --ctorigsrc 10.0.0.0/8 ! --ctorigdst 10.2.3.4 --ctreplsrc 10.0.0.0/255.0.255.0 --ctrepldst 0.0.0.0/0 -j ACCEPT
-A FORWARD -m conntrack --ctorigsrcport 80 ! --ctorigdstport 80:90 --ctreplsrcport 53 --ctrepldstport 1000:2000 --ctstatus ASSURED,CONFIRMED --ctexpire 10:20 --ctdir REPLY -j ACCEPT
-A FORWARD -m conntrack ! --ctstate INVALID,NEW,UNTRACKED,SNAT --ctstatus NONE --ctexpire 5 --ctdir ORIGINAL -j DROP
-A FORWARD -m state --state NEW,RELATED -g lower
-A OUTPUT -o lo -j RETURN
-A OUTPUT -m statistic --mode nth ! --every 3 --packet 2 -j lower
-A OUTPUT -m statistic --mode random --probability 0.33300000010 -j lower
-A OUTPUT -m owner --socket-exists --uid-owner 0-999 ! --gid-owner 5 --suppl-groups -j ACCEPT
-A OUTPUT -m connmark ! --mark 0x1/0xff -j CONNMARK --set-xmark 0x10/0xff
-A OUTPUT -j CONNMARK --save-mark --nfmask 0xff --ctmask 0xff00 --left-shift-mark 8
-A OUTPUT -m mark --mark 0x1 -j MARK --set-xmark 0x0/0xff
-A OUTPUT -p udp -m multiport ! --sports 53,67:68,123 -j REJECT --reject-with icmp-admin-prohibited
-A OUTPUT -p tcp -m multiport --ports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15 -j REJECT
-A OUTPUT -j CLASSIFY --set-class abcd:12
-A OUTPUT -m iprange --src-range 10.0.0.1-10.0.0.9 ! --dst-range 192.0.2.0-192.0.2.255 -j NFLOG --nflog-prefix "nf log" --nflog-group 5 --nflog-size 128 --nflog-threshold 3
-A OUTPUT -j NFLOG
-A OUTPUT -j NFQUEUE --queue-balance 2:5 --queue-bypass --queue-cpu-fanout
-A OUTPUT -j NFQUEUE --queue-num 7
-A A-CHAIN -j LOG
-A A-CHAIN -j Z/last_chain-with.dots
-A A-CHAIN
-A Z/last_chain-with.dots -j RETURN
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.0.0.1-10.0.0.9:8080-8090 --random --persistent
-A PREROUTING -p tcp -m tcp --dport 81 -j DNAT --to-destination :1000-2000/5000
-A PREROUTING -p tcp -m tcp --dport 82 -j DNAT --to-destination 10.0.0.2
-A OUTPUT -p udp -j REDIRECT --to-ports 5353-5360 --random
-A POSTROUTING -o eth0 -j SNAT --to-source 192.0.2.1 --random-fully
-A POSTROUTING -o eth1 -p tcp -j MASQUERADE --to-ports 1024-65535
COMMIT
*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -p udp -m udp --dport 53 -j CT --notrack
-A PREROUTING -p tcp -m tcp --dport 21 -j CT --helper ftp --zone-orig 5
-A PREROUTING -j CT --ctevents new,related,destroy,secmark --expevents new --zone mark
-A OUTPUT -p udp -m udp --sport 53 -j NOTRACK
-A OUTPUT -p icmp -j TRACE
COMMIT
`;

const EDGES_V6 = `*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [2:160]
:OUTPUT ACCEPT [0:0]
:OUT6 - [0:0]
[2:160] -A INPUT ! -i lo -s fe80::/10 -p ipv6-icmp -m icmp6 --icmpv6-type 128 -j ACCEPT
-A INPUT -p ipv6-icmp -m icmp6 ! --icmpv6-type 1/4 -j DROP
-A INPUT ! -s ::/0 -d 2001:db8::1/128 -j DROP
-A INPUT -s 2001:db8::/ffff:0:ffff:: -d ::ffff:10.0.0.1/128 -j DROP
-A INPUT -s ::1.2.3.4/128 -m conntrack --ctorigsrc fd00::/64 ! --ctorigdst ::1 --ctstate RELATED,ESTABLISHED -j ACCEPT
-A OUTPUT -o eth+ -d fd00:10:244:2::/64 -p tcp -m multiport --dports 80,443 -m comment --comment "chaos \\"web\\" partition" -j OUT6
-A OUT6 -p tcp -j REJECT --reject-with tcp-reset
-A OUT6 -j REJECT --reject-with icmp6-adm-prohibited
-A OUT6 -j REJECT --reject-with icmp6-addr-unreachable
-A OUT6 -j REJECT --reject-with icmp6-no-route
-A OUT6 -j REJECT --reject-with icmp6-policy-fail
-A OUT6 -j REJECT --reject-with icmp6-reject-route
-A OUT6 -m owner --uid-owner 1337 -j LOG --log-prefix v6
-A OUT6 -m mark ! --mark 0x2 -j MARK --set-xmark 0x2/0x2
-A OUT6 -m iprange ! --src-range fd00::1-fd00::ff -j NFLOG --nflog-range 64
COMMIT
*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -j CT --notrack
-A OUTPUT -j NOTRACK
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -p tcp -m tcp --dport 80 -j DNAT --to-destination [fd00::1]:8080
-A PREROUTING -p tcp -m tcp --dport 81 -j DNAT --to-destination fd00::1-fd00::9
-A POSTROUTING -o eth0 -j SNAT --to-source 2001:db8::1
-A POSTROUTING -o eth1 -j MASQUERADE --random-fully
COMMIT
`;

async function chaosPartition(ns: TestNetns, backend: Backend): Promise<void> {
  const cm = new ChaosMeshReplay(ns, backend);
  await cm.partition({ experiment: 'web-partition', direction: 'to', cidrs: ['10.244.2.0/24', '10.96.0.10'], cidrPorts: ['10.244.3.0/24,tcp:8080'] });
  await cm.partition({ experiment: 'db-isolation-from', direction: 'from', cidrs: ['10.244.9.9'] });
}

/** Every set match revision iptables 1.8.9 writes (4), counters and flags, IPv6 sets, a swap under a referenced set. */
async function ipsetMatches(ns: TestNetns, backend: Backend): Promise<void> {
  for (const args of [['s-net', 'hash:net'], ['s-counted', 'hash:ip', 'counters'], ['s-swap-a', 'hash:ip'], ['s-swap-b', 'hash:ip'], ['s6', 'hash:ip', 'family', 'inet6']]) {
    await ns.exec(['ipset', 'create', ...args]);
  }
  const v4 = (rule: string): Promise<unknown> => ns.exec([`iptables-${backend}`, '-w', ...rule.split(' ')]);
  await v4('-A OUTPUT -m set --match-set s-net dst -j DROP');
  await v4('-A OUTPUT -m set ! --match-set s-counted src,dst --packets-gt 5 --bytes-lt 100 ! --update-counters ! --update-subcounters --return-nomatch -j ACCEPT');
  await v4('-A OUTPUT -m set --match-set s-net src -m set --match-set s-counted dst,dst,src --packets-eq 3 ! --bytes-eq 7 -j ACCEPT');
  await v4('-A INPUT -m set --match-set s-swap-a src -j DROP');
  await ns.exec(['ipset', 'swap', 's-swap-a', 's-swap-b']);
  await ns.exec([`ip6tables-${backend}`, '-w', '-A', 'OUTPUT', '-m', 'set', '--match-set', 's6', 'dst', '-j', 'DROP']);
}

/** Every scenario, applied through `backend`. */
export function scenarios(backend: Backend): Scenario[] {
  return [
    { name: 'ipset matches: counters, flags, IPv6 sets, swapped sets', families: ['ipv4', 'ipv6'], apply: (ns) => ipsetMatches(ns, backend) },
    { name: 'Chaos Mesh partition (to + from, ipsets, -i/-o eth0)', families: ['ipv4'], apply: (ns) => chaosPartition(ns, backend) },
    {
      name: 'Chaos Mesh bandwidth with a target (TC-TABLES CLASSIFY chain)',
      families: ['ipv4'],
      async apply(ns) {
        await new ChaosMeshReplay(ns, backend).filteredBandwidth({ experiment: 'slow-db', cidrs: ['10.244.4.0/24'], rate: 1000000, burst: 32768, limit: 20000 });
      },
    },
    {
      name: 'Chaos Mesh HTTPChaos old layout (mangle DIVERT, -m socket, MARK, TPROXY)',
      families: ['ipv4'],
      apply: (ns) => new ChaosMeshReplay(ns, backend).httpChaos({ port: 80, proxyPort: 1025 }),
    },
    {
      name: 'Chaos Mesh partition then recovery (empty scaffolding, orphaned chains)',
      families: ['ipv4'],
      async apply(ns) {
        await chaosPartition(ns, backend);
        await new ChaosMeshReplay(ns, backend).recover();
      },
    },
    { name: 'kube-proxy nat + filter', families: ['ipv4'], apply: restore('ipv4', KUBE_PROXY_NAT, backend) },
    { name: 'CNI bridge + Docker', families: ['ipv4'], apply: restore('ipv4', CNI_DOCKER, backend) },
    { name: 'Istio (REDIRECT and TPROXY modes), IPv4 and IPv6', families: ['ipv4', 'ipv6'], apply: both(ISTIO_V4, ISTIO_V6, backend) },
    { name: 'Linkerd proxy-init', families: ['ipv4'], apply: restore('ipv4', LINKERD, backend) },
    { name: 'save-format edges and every decoder', families: ['ipv4', 'ipv6'], apply: both(EDGES_V4, EDGES_V6, backend) },
  ];
}

export const SCENARIOS: Scenario[] = scenarios('legacy');
