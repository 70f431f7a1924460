/**
 * Rule and set corpora the nftables / ipset differential tests (and the fixture capture) apply to a throwaway
 * namespace, on top of the legacy reader's scenarios (test/netns/netlink/xtables/corpus.ts, replayed through
 * iptables-nft): the forms iptables-nft translates to native expressions, IPv6 address forms, native nft tables of
 * every family, and ipsets of every type the kernel here supports with and without timeout / counters / comment.
 * Applied through the real tools (iptables-nft-restore, ip6tables-nft-restore, nft -f, ipset restore).
 */
import type { TestNetns } from './netns.js';

type Exec = Pick<TestNetns, 'exec'>;

/**
 * CNI-style filter rules written to hit every form iptables-nft translates to native expressions (interfaces with
 * and without `+`, `! -i +`, masks, protocols by name and number, -f, tcp/udp ports as cmp / range / lt-gt,
 * tcp flags, mark, limit, icmp) next to compat extensions, quoted comments and a 255-byte comment.
 */
export const NFT_NATIVE_FORMS = `*filter
:CNI-FORWARD - [0:0]
:CNI-ADMIN - [0:0]
-A FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD
-A CNI-FORWARD -m comment --comment "CNI firewall plugin admin overrides" -j CNI-ADMIN
-A CNI-FORWARD -d 10.244.1.5/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A CNI-FORWARD -s 10.244.1.5/32 -j ACCEPT
-A CNI-FORWARD -i cni+ -o eth0 -g CNI-ADMIN
-A INPUT -i veth+ -p tcp -m multiport --dports 80,443 -j ACCEPT
-A INPUT ! -i lo -s 127.0.0.0/8 -j DROP
-A INPUT -s 10.1.0.0/16 -i eth+ -p tcp --dport 22 -j ACCEPT
-A INPUT -s 1.2.3.4/255.0.255.0 -p tcp --tcp-flags SYN,ACK SYN -m mark --mark 0x10/0xff -j RETURN
-A INPUT -p tcp --dport :1000 -m limit --limit 3/min -f
-A INPUT -p tcp ! --dport :1000 -m limit --limit 3/hour --limit-burst 7 -j ACCEPT
-A INPUT ! -i + -p icmp --icmp-type 8 -j ACCEPT
-A INPUT -p 47 -j ACCEPT
-A INPUT ! -p udp -j RETURN
-A OUTPUT -o cali+ -p tcp --tcp-flags SYN,RST SYN -j ACCEPT
-A OUTPUT ! -d 10.2.3.4/32 ! -o lo -p udp --sport 1000:2000 -j DROP
-A OUTPUT -p tcp --sport 1024:65535 --dport 443 -j LOG --log-prefix "tls out " --log-level 6
-A OUTPUT -p udp ! --sport 53 -m comment --comment "he said \\"hi\\" # not a comment \\\\ back" -j REJECT --reject-with icmp-port-unreachable
-A OUTPUT -m comment --comment "${'x'.repeat(255)}"
-A OUTPUT -d 0.0.0.0/0 -m mark --mark 0x1 -j ACCEPT
COMMIT
`;

/** IPv6: addresses and prefixes of every inet_ntop form, a non-contiguous mask, icmp6, a Chaos Mesh style chain. */
export const IPV6_FORMS = `*filter
:CHAOS-OUTPUT - [0:0]
-A OUTPUT -j CHAOS-OUTPUT
-A CHAOS-OUTPUT -d fd00:10:244:2::/64 -p tcp -m multiport --dports 80,443 -m comment --comment "chaos \\"web\\" partition" -j DROP
-A CHAOS-OUTPUT -d fd00:10:244:3::1/128 -o eth0 -j REJECT --reject-with icmp6-port-unreachable
-A INPUT -s 2001:db8::/32 -i eth0 -p udp --dport 53 -j ACCEPT
-A INPUT -s ::ffff:10.0.0.0/104 -j DROP
-A INPUT -s ::10.0.0.1/128 -j DROP
-A INPUT ! -s fe80::/10 -p ipv6-icmp -m icmp6 --icmpv6-type 128 -j ACCEPT
-A INPUT -d ff02::1/128 -j ACCEPT
-A FORWARD -s 2001:db8::/ffff:ffff:0:ffff:: -j DROP
-A FORWARD -i veth+ -p tcp --dport 8000:9000 -j ACCEPT
COMMIT
`;

/** Native nft tables of every family (an inet table with most expression kinds, bridge, netdev, ip, arp). */
export const NATIVE_NFT = `table inet chaos_native {
  set allowed { type ipv4_addr; elements = { 10.0.0.1, 10.0.0.2 } }
  chain input {
    type filter hook input priority 0; policy accept;
    ct state established,related accept comment "ct"
    tcp dport { 80, 443 } counter accept comment "lookup"
    tcp dport 1000-2000 drop comment "range"
    ip saddr @allowed accept
    limit rate 10/second burst 5 packets accept comment "limit"
    log prefix "nft: " group 2 comment "log"
    meta l4proto udp reject comment "reject"
    tcp dport 9 reject with tcp reset
  }
  chain pre {
    type filter hook prerouting priority -150; policy accept;
    meta l4proto tcp socket transparent 1 meta mark set 1 accept comment "socket"
    meta l4proto tcp tproxy ip to 127.0.0.1:50080 comment "tproxy"
  }
  chain nat_out {
    type nat hook output priority -100; policy accept;
    tcp dport 8080 redirect to :80 comment "redirect"
    ip daddr 1.2.3.4 tcp dport 80 dnat ip to 10.0.0.1:80 comment "dnat"
  }
  chain post {
    type nat hook postrouting priority 100; policy accept;
    oifname "eth0" masquerade comment "masquerade"
  }
  chain raw {
    type filter hook prerouting priority -300; policy accept;
    udp dport 53 notrack comment "notrack"
  }
  chain user {
    counter packets 7 bytes 700 comment "counter"
  }
}
table bridge br_native {
  chain brfwd {
    type filter hook forward priority 0; policy drop;
    ether type ip accept
  }
}
table netdev nd_native {
  chain ingress {
    type filter hook ingress device "eth0" priority 0; policy accept;
    counter
  }
}
table ip chaos_ip4 {
  chain c {
    type filter hook output priority 10; policy accept;
    ip daddr 10.0.0.0/8 counter drop
  }
}
table arp arp_t {
  chain in {
    type filter hook input priority 0; policy accept;
  }
}
`;

/** ipsets of every type this kernel has, with timeout / counters / comment / skbinfo, and every member form. */
export const IPSET_RESTORE = `create cs-ip hash:ip family inet hashsize 1024 maxelem 65536
add cs-ip 10.0.0.1
add cs-ip 10.0.0.2
create cs-ip6 hash:ip family inet6 timeout 300 counters comment
add cs-ip6 fd00::1 timeout 200 comment "db primary"
add cs-ip6 ::2 timeout 200
add cs-ip6 ::ffff:1.2.3.4 timeout 200 packets 3 bytes 180
create cs-net hash:net counters
add cs-net 10.0.0.0/8 packets 3 bytes 9
add cs-net 10.1.2.3
add cs-net 192.168.0.0/24 nomatch
create cs-ipport hash:ip,port timeout 0 skbinfo
add cs-ipport 10.0.0.1,tcp:80
add cs-ipport 10.0.0.2,udp:53 skbmark 0x10/0xff skbprio 1:2 skbqueue 3
add cs-ipport 10.0.0.3,icmp:ping
add cs-ipport 10.0.0.4,sctp:9
create cs-netport hash:net,port comment
add cs-netport 10.2.0.0/16,tcp:8080 comment "hello, world"
add cs-netport 10.3.0.1,udp:53
create cs-netport6 hash:net,port family inet6
add cs-netport6 fd00::/64,ipv6-icmp:ping
add cs-netport6 fd00::1,tcp:22
create cs-netif hash:net,iface
add cs-netif 10.0.0.0/8,eth0
add cs-netif 10.0.0.0/16,physdev:veth1
add cs-netif 10.9.0.0/16,ve wildcard
create cs-ipportip hash:ip,port,ip
add cs-ipportip 1.1.1.1,tcp:1,2.2.2.2
create cs-ipportnet hash:ip,port,net
add cs-ipportnet 1.1.1.1,tcp:1,2.2.0.0/16
create cs-bport bitmap:port range 1000-2000
add cs-bport 1500
create cs-bip bitmap:ip range 10.0.0.0/24
add cs-bip 10.0.0.9
create cs-bipmac bitmap:ip,mac range 10.0.0.0/28
add cs-bipmac 10.0.0.1,00:11:22:33:44:55
add cs-bipmac 10.0.0.2
create cs-mask hash:ip netmask 24
add cs-mask 10.1.1.0
create cs-list list:set size 4 timeout 100
add cs-list cs-ip
add cs-list cs-net timeout 50
`;

export async function restore(ns: Exec, tool: 'iptables-nft-restore' | 'ip6tables-nft-restore', text: string): Promise<void> {
  await ns.exec([tool, '--noflush'], { input: text });
}

/** The IPv4 and IPv6 forms above, through iptables-nft. */
export async function applyNftForms(ns: Exec): Promise<void> {
  await restore(ns, 'iptables-nft-restore', NFT_NATIVE_FORMS);
  await restore(ns, 'ip6tables-nft-restore', IPV6_FORMS);
}

export async function applyNativeNft(ns: Exec): Promise<void> {
  await ns.exec(['nft', '-f', '-'], { input: NATIVE_NFT });
}

export async function applyIpsetCorpus(ns: Exec): Promise<void> {
  await ns.exec(['ipset', 'restore'], { input: IPSET_RESTORE });
}
