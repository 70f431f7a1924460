import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeXtMatch, decodeXtTarget, knownExtensions } from '../../../../agent/netns/netlink/xt/registry.js';
import type { XtContext, XtResult } from '../../../../agent/netns/netlink/xt/types.js';
import { Blob } from './blob.js';

const sets: XtContext = { setName: (i) => (['chaos-set', 'other'][i] ?? null) };
const m = (name: string, rev: number, b: Blob | Buffer, family: 'ipv4' | 'ipv6' = 'ipv4'): XtResult =>
  decodeXtMatch(name, rev, family, b instanceof Blob ? b.b : b, sets);
const t = (name: string, rev: number, b: Blob | Buffer, family: 'ipv4' | 'ipv6' = 'ipv4'): XtResult =>
  decodeXtTarget(name, rev, family, b instanceof Blob ? b.b : b, sets);

describe('registry', () => {
  it('says why it cannot render: unknown extension, revision, family, short blob', () => {
    expect(m('nosuch', 0, Buffer.alloc(8))).toEqual({ opaque: 'match nosuch: no decoder' });
    expect(m('set', 9, Buffer.alloc(64))).toEqual({ opaque: 'match set revision 9: no decoder for ipv4' });
    expect(m('icmp6', 0, Buffer.alloc(4), 'ipv4')).toEqual({ opaque: 'match icmp6 revision 0: no decoder for ipv4' });
    expect(t('SNAT', 1, Buffer.alloc(40), 'ipv4')).toEqual({ opaque: 'target SNAT revision 1: no decoder for ipv4' });
    expect(m('tcp', 0, Buffer.alloc(11))).toEqual({ opaque: 'match tcp revision 0: 11 bytes, the struct needs 12' });
    expect(m('toString', 0, Buffer.alloc(8))).toEqual({ opaque: 'match toString: no decoder' });
    expect(m('set', -1, Buffer.alloc(32))).toEqual({ opaque: 'match set revision -1: no decoder for ipv4' });
  });

  it('never throws, whatever the bytes, name, revision and family', () => {
    const { matches, targets } = knownExtensions();
    fc.assert(
      fc.property(
        fc.constantFrom(...matches.map((n) => ['m', n]), ...targets.map((n) => ['t', n])),
        fc.integer({ min: 0, max: 5 }),
        fc.constantFrom('ipv4' as const, 'ipv6' as const),
        // Up to 300 bytes: past the largest struct (comment, 256), so every decoder also sees blobs that fit.
        fc.uint8Array({ maxLength: 300 }),
        ([kind, name], rev, family, bytes) => {
          const r = (kind === 'm' ? decodeXtMatch : decodeXtTarget)(name!, rev, family, Buffer.from(bytes), sets);
          if ('text' in r) expect(r.text.startsWith(kind === 'm' ? ` -m ` : ` -j `)).toBe(true);
          else expect(typeof r.opaque).toBe('string');
        },
      ),
      { numRuns: 5000 },
    );
  });
});

describe('set', () => {
  it('revision 1: name by index, dimensions src/dst, inversion', () => {
    expect(m('set', 1, new Blob(4).u16(0, 0).u8(2, 2).u8(3, 0b010))).toEqual({ text: ' -m set --match-set chaos-set src,dst' });
    expect(m('set', 1, new Blob(4).u16(0, 1).u8(2, 1).u8(3, 0b001))).toEqual({ text: ' -m set ! --match-set other dst' });
  });
  it('revision 2 adds --return-nomatch (flag bit 7)', () => {
    expect(m('set', 2, new Blob(4).u16(0, 0).u8(2, 1).u8(3, 0x82))).toEqual({ text: ' -m set --match-set chaos-set src --return-nomatch' });
  });
  it('revisions 3 and 4: counters and update flags, op/value in their own places', () => {
    const v3 = new Blob(48).u16(0, 0).u8(2, 2).u8(3, 0b100).u8(8, 1).u64(16, 10n).u8(24, 4).u64(32, 2n ** 63n).u32(40, (1 << 3) | (1 << 7));
    expect(m('set', 3, v3)).toEqual({ text: ' -m set --match-set chaos-set dst,src --return-nomatch ! --update-counters --packets-eq 10 --bytes-gt 9223372036854775808' });
    const v4 = new Blob(48).u16(0, 1).u8(2, 1).u8(3, 0).u64(8, 5n).u8(16, 2).u64(24, 7n).u8(32, 3).u32(40, 1 << 4);
    expect(m('set', 4, v4)).toEqual({ text: ' -m set --match-set other dst ! --update-subcounters ! --packets-eq 5 --bytes-lt 7' });
  });
  it('revision 0: per-dimension flags, inversion in the first', () => {
    const v0 = new Blob(32).u16(0, 0).u32(4, 0x01 | 0x04).u32(8, 0x02).u32(12, 0);
    expect(m('set', 0, v0)).toEqual({ text: ' -m set ! --match-set chaos-set src,dst' });
  });
  it('an index with no set, or a dimension above 6, is opaque', () => {
    expect(m('set', 1, new Blob(4).u16(0, 7).u8(2, 1))).toEqual({ opaque: expect.stringContaining('no ipset has index 7') });
    expect(m('set', 1, new Blob(4).u16(0, 0).u8(2, 7))).toHaveProperty('opaque');
  });
});

describe('comment', () => {
  const c = (s: string | Buffer): XtResult => m('comment', 0, Buffer.concat([Buffer.from(s), Buffer.alloc(256)]).subarray(0, 256));
  it('quotes like xtables_save_string', () => {
    expect(c('kube-dns_53')).toEqual({ text: ' -m comment --comment kube-dns_53' });
    expect(c('a b')).toEqual({ text: ' -m comment --comment "a b"' });
    expect(c(`say "hi" it's # \\x`)).toEqual({ text: ' -m comment --comment "say \\"hi\\" it\\\'s # \\\\x"' });
    expect(c('')).toEqual({ text: ' -m comment --comment ""' });
  });
  it('prints at most 255 bytes (comment[255] is forced to NUL)', () => {
    const r = m('comment', 0, Buffer.alloc(256, 0x61));
    expect(r).toEqual({ text: ` -m comment --comment ${'a'.repeat(255)}` });
  });
  it('decodes UTF-8 and quotes it', () => {
    expect(c('café')).toEqual({ text: ' -m comment --comment "café"' });
  });
});

describe('tcp / udp', () => {
  it('ports, ranges, inversions in print order', () => {
    const tcp = new Blob(12).u16(0, 1024).u16(2, 65535).u16(4, 80).u16(6, 80).u8(11, 0x02);
    expect(m('tcp', 0, tcp)).toEqual({ text: ' -m tcp --sport 1024:65535 ! --dport 80' });
    expect(m('tcp', 0, new Blob(12).u16(2, 0xffff).u16(6, 0xffff))).toEqual({ text: ' -m tcp' });
  });
  it('flags and option', () => {
    const b = new Blob(12).u16(2, 0xffff).u16(6, 0xffff).u8(8, 2).u8(9, 0x17).u8(10, 0x02).u8(11, 0x04 | 0x08);
    expect(m('tcp', 0, b)).toEqual({ text: ' -m tcp ! --tcp-option 2 ! --tcp-flags FIN,SYN,RST,ACK SYN' });
    const none = new Blob(12).u16(2, 0xffff).u16(6, 0xffff).u8(9, 0x3f).u8(10, 0);
    expect(m('tcp', 0, none)).toEqual({ text: ' -m tcp --tcp-flags FIN,SYN,RST,PSH,ACK,URG NONE' });
    expect(m('tcp', 0, new Blob(12).u16(2, 0xffff).u16(6, 0xffff).u8(9, 0x40))).toHaveProperty('opaque');
  });
  it('udp', () => {
    expect(m('udp', 0, new Blob(10).u16(0, 53).u16(2, 53).u16(6, 0xffff).u8(8, 1))).toEqual({ text: ' -m udp ! --sport 53' });
  });
});

describe('multiport', () => {
  it('revision 0 lists ports', () => {
    expect(m('multiport', 0, new Blob(32).u8(0, 1).u8(1, 2).u16(2, 80).u16(4, 443))).toEqual({ text: ' -m multiport --dports 80,443' });
  });
  it('revision 1: ranges, inversion, either direction', () => {
    const b = new Blob(48).u8(0, 2).u8(1, 3).u16(2, 1000).u16(4, 2000).u16(6, 3000).u8(32, 1).u8(47, 1);
    expect(m('multiport', 1, b)).toEqual({ text: ' -m multiport ! --ports 1000:2000,3000' });
  });
  it('more than 15 ports, an unknown direction or a range on port 15 are opaque', () => {
    expect(m('multiport', 1, new Blob(48).u8(1, 16))).toHaveProperty('opaque');
    expect(m('multiport', 1, new Blob(48).u8(0, 3).u8(1, 1))).toHaveProperty('opaque');
    expect(m('multiport', 1, new Blob(48).u8(1, 15).u8(46, 1))).toHaveProperty('opaque');
  });
});

describe('marks', () => {
  it('mark match: value, value/mask, inversion', () => {
    expect(m('mark', 1, new Blob(12).u32(0, 0x4000).u32(4, 0x4000).u8(8, 1))).toEqual({ text: ' -m mark ! --mark 0x4000/0x4000' });
    expect(m('mark', 1, new Blob(12).u32(0, 1).u32(4, 0xffffffff))).toEqual({ text: ' -m mark --mark 0x1' });
  });
  it('MARK --set-xmark', () => {
    expect(t('MARK', 2, new Blob(8).u32(0, 1).u32(4, 0xffffffff))).toEqual({ text: ' -j MARK --set-xmark 0x1/0xffffffff' });
  });
  it('CONNMARK revisions 1 and 2', () => {
    expect(t('CONNMARK', 1, new Blob(16).u32(0, 0x10).u32(4, 0xff).u8(12, 0))).toEqual({ text: ' -j CONNMARK --set-xmark 0x10/0xff' });
    expect(t('CONNMARK', 2, new Blob(16).u32(4, 0xffffffff).u32(8, 0xffffffff).u8(14, 1))).toEqual({ text: ' -j CONNMARK --save-mark --nfmask 0xffffffff --ctmask 0xffffffff' });
    expect(t('CONNMARK', 2, new Blob(16).u32(4, 0xff).u32(8, 0xff00).u8(12, 1).u8(13, 8).u8(14, 2))).toEqual({ text: ' -j CONNMARK --restore-mark --nfmask 0xff00 --ctmask 0xff --right-shift-mark 8' });
    expect(t('CONNMARK', 2, new Blob(16).u8(14, 9))).toEqual({ text: ' -j CONNMARK ERROR: UNKNOWN CONNMARK MODE' });
  });
  it('CLASSIFY prints 4-digit hex major:minor', () => {
    expect(t('CLASSIFY', 0, new Blob(4).u32(0, 0x00010004))).toEqual({ text: ' -j CLASSIFY --set-class 0001:0004' });
    expect(t('CLASSIFY', 0, new Blob(4).u32(0, 0xabcd12345))).toEqual({ text: ' -j CLASSIFY --set-class bcd1:2345' });
  });
});

describe('NAT', () => {
  const compat = (flags: number, min: string, max: string, pmin: number, pmax: number): Blob =>
    new Blob(24).u32(0, 1).u32(4, flags).ip(8, min).ip(12, max).be16(16, pmin).be16(18, pmax);
  it('IPv4 compat ranges', () => {
    expect(t('DNAT', 0, compat(3, '10.244.0.3', '10.244.0.3', 53, 53))).toEqual({ text: ' -j DNAT --to-destination 10.244.0.3:53' });
    expect(t('SNAT', 0, compat(1 | 2 | 8, '1.2.3.4', '1.2.3.9', 1000, 2000))).toEqual({ text: ' -j SNAT --to-source 1.2.3.4-1.2.3.9:1000-2000 --persistent' });
    expect(t('MASQUERADE', 0, compat(1 << 4, '0.0.0.0', '0.0.0.0', 0, 0))).toEqual({ text: ' -j MASQUERADE --random-fully' });
    expect(t('REDIRECT', 0, compat(2 | 4, '0.0.0.0', '0.0.0.0', 15001, 15001))).toEqual({ text: ' -j REDIRECT --to-ports 15001 --random' });
  });
  it('IPv6 ranges bracket the address when a port is given; revision 2 prints the offset base', () => {
    const r = new Blob(40).u32(0, 3).ip(4, 'fd00::1').ip(20, 'fd00::1').be16(36, 80).be16(38, 81);
    expect(t('DNAT', 1, r, 'ipv6')).toEqual({ text: ' -j DNAT --to-destination [fd00::1]:80-81' });
    expect(t('REDIRECT', 0, new Blob(40).u32(0, 2).be16(36, 15001).be16(38, 15001), 'ipv6')).toEqual({ text: ' -j REDIRECT --to-ports 15001' });
    const r2 = new Blob(44).u32(0, 2 | 32).be16(36, 1000).be16(38, 2000).be16(40, 5000);
    expect(t('DNAT', 2, r2, 'ipv4')).toEqual({ text: ' -j DNAT --to-destination :1000-2000/5000' });
  });
});

describe('REJECT / TPROXY / LOG', () => {
  it('REJECT names by family; unnamed values are opaque', () => {
    expect(t('REJECT', 0, new Blob(4).u32(0, 3))).toEqual({ text: ' -j REJECT --reject-with icmp-port-unreachable' });
    expect(t('REJECT', 0, new Blob(4).u32(0, 7))).toEqual({ text: ' -j REJECT --reject-with tcp-reset' });
    expect(t('REJECT', 0, new Blob(4).u32(0, 4), 'ipv6')).toEqual({ text: ' -j REJECT --reject-with icmp6-port-unreachable' });
    expect(t('REJECT', 0, new Blob(4).u32(0, 4))).toHaveProperty('opaque');
    expect(t('REJECT', 0, new Blob(4).u32(0, 99), 'ipv6')).toHaveProperty('opaque');
  });
  it('TPROXY revisions 0 and 1', () => {
    expect(t('TPROXY', 0, new Blob(16).u32(0, 1).u32(4, 1).ip(8, '0.0.0.0').be16(12, 1025))).toEqual({ text: ' -j TPROXY --on-port 1025 --on-ip 0.0.0.0 --tproxy-mark 0x1/0x1' });
    expect(t('TPROXY', 1, new Blob(28).u32(0, 0xff).u32(4, 2).ip(8, '::1').be16(24, 15006), 'ipv6')).toEqual({ text: ' -j TPROXY --on-port 15006 --on-ip ::1 --tproxy-mark 0x2/0xff' });
  });
  it('LOG: quoted prefix, level unless 4, flags', () => {
    expect(t('LOG', 0, new Blob(32).u8(0, 6).u8(1, 0x01 | 0x08 | 0x20).str(2, 'DROP: '))).toEqual({ text: ' -j LOG --log-prefix "DROP: " --log-level 6 --log-tcp-sequence --log-uid --log-macdecode' });
    expect(t('LOG', 0, new Blob(32).u8(0, 4))).toEqual({ text: ' -j LOG' });
    expect(t('LOG', 0, new Blob(32).u8(0, 4).str(2, 'x'.repeat(30)))).toHaveProperty('opaque');
  });
});

describe('conntrack / state', () => {
  const v3 = (): Blob => new Blob(164);
  it('ctstate in print order, inverted, and the state alias', () => {
    expect(m('conntrack', 3, v3().u16(146, 1).u16(148, 1).u16(150, 2 | 4 | 128))).toEqual({ text: ' -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT' });
    expect(m('conntrack', 3, v3().u16(146, 1 | (1 << 13)).u16(150, 8))).toEqual({ text: ' -m state --state NEW' });
    expect(m('conntrack', 1, new Blob(152).u16(146, 1).u8(150, 1))).toEqual({ text: ' -m conntrack --ctstate INVALID' });
  });
  it('addresses, ports (host order in v3, network order before), status, expire, direction', () => {
    const b = v3()
      .u16(146, 2 | 4 | (1 << 6) | (1 << 7) | (1 << 9) | (1 << 12))
      .u16(148, 4 | (1 << 12))
      .u16(136, 6)
      .ip(0, '10.0.0.0').ip(16, '255.0.0.0')
      .u16(140, 80).u16(156, 90)
      .u16(152, 0)
      .u32(128, 10).u32(132, 20);
    expect(m('conntrack', 3, b)).toEqual({ text: ' -m conntrack --ctproto 6 ! --ctorigsrc 10.0.0.0/8 --ctorigdstport 80:90 --ctstatus NONE --ctexpire 10:20 --ctdir REPLY' });
    const v2 = new Blob(156).u16(146, (1 << 10) | (1 << 6)).be16(142, 53).u16(152, 4 | 8);
    expect(m('conntrack', 2, v2)).toEqual({ text: ' -m conntrack --ctreplsrcport 53 --ctstatus ASSURED,CONFIRMED' });
    const v6 = v3().u16(146, 8).ip(32, 'fd00::').ip(48, 'ffff:ffff::');
    expect(m('conntrack', 3, v6, 'ipv6')).toEqual({ text: ' -m conntrack --ctorigdst fd00::/32' });
  });
  it('the old state match', () => {
    expect(m('state', 0, new Blob(4).u32(0, 2 | 4))).toEqual({ text: ' -m state --state RELATED,ESTABLISHED' });
  });
});

describe('the other matches', () => {
  it('owner', () => {
    expect(m('owner', 1, new Blob(20).u32(0, 1337).u32(4, 1337).u32(8, 10).u32(12, 20).u8(16, 1 | 2 | 4).u8(17, 1))).toEqual({ text: ' -m owner --socket-exists ! --uid-owner 1337 --gid-owner 10-20' });
  });
  it('addrtype', () => {
    expect(m('addrtype', 1, new Blob(8).u16(2, 1 << 2).u32(4, 2 | 4))).toEqual({ text: ' -m addrtype ! --dst-type LOCAL --limit-iface-in' });
    expect(m('addrtype', 0, new Blob(12).u16(0, (1 << 1) | (1 << 3)).u32(4, 1))).toEqual({ text: ' -m addrtype ! --src-type UNICAST,BROADCAST' });
  });
  it('statistic: %.11f with ties to even, nth', () => {
    expect(m('statistic', 0, new Blob(24).u32(4, 0x40000000))).toEqual({ text: ' -m statistic --mode random --probability 0.50000000000' });
    expect(m('statistic', 0, new Blob(24).u32(4, 0x80000))).toEqual({ text: ' -m statistic --mode random --probability 0.00024414062' });
    expect(m('statistic', 0, new Blob(24).u32(4, 0x180000))).toEqual({ text: ' -m statistic --mode random --probability 0.00073242188' });
    // Values checked against glibc printf("%.11f", v / 2147483648.0) on this machine.
    for (const [v, p] of [[357913941, '0.16666666651'], [1, '0.00000000047'], [0xffffffff, '1.99999999953'], [0x7fffffff, '0.99999999953'], [12345678, '0.00574890431']] as const) {
      expect(m('statistic', 0, new Blob(24).u32(4, v))).toEqual({ text: ` -m statistic --mode random --probability ${p}` });
    }
    expect(m('statistic', 0, new Blob(24).u16(0, 1).u16(2, 1).u32(4, 2).u32(8, 1))).toEqual({ text: ' -m statistic --mode nth ! --every 3 --packet 1' });
  });
  it('socket, physdev, mac, pkttype, limit, icmp', () => {
    expect(m('socket', 3, new Blob(1).u8(0, 7))).toEqual({ text: ' -m socket --transparent --nowildcard --restore-skmark' });
    expect(m('socket', 1, new Blob(1).u8(0, 7))).toEqual({ text: ' -m socket --transparent' });
    const pd = new Blob(66).str(0, 'veth+').str(32, 'eth0').u8(64, 0x02).u8(65, 0x01 | 0x02 | 0x04);
    expect(m('physdev', 0, pd)).toEqual({ text: ' -m physdev --physdev-in veth+ ! --physdev-out eth0 --physdev-is-bridged' });
    expect(m('mac', 0, new Blob(12).bytes(0, [0xaa, 0xbb, 0xcc, 0, 0x11, 0x22]).s32(8, 1))).toEqual({ text: ' -m mac ! --mac-source aa:bb:cc:00:11:22' });
    expect(m('pkttype', 0, new Blob(8).s32(0, 2))).toEqual({ text: ' -m pkttype --pkt-type multicast' });
    expect(m('pkttype', 0, new Blob(8).s32(0, 7).s32(4, 1))).toEqual({ text: ' -m pkttype ! --pkt-type 7' });
    expect(m('limit', 0, new Blob(40).u32(0, 200000).u32(4, 7))).toEqual({ text: ' -m limit --limit 3/min --limit-burst 7' });
    expect(m('limit', 0, new Blob(40).u32(0, 10000 / 25).u32(4, 5))).toEqual({ text: ' -m limit --limit 25/sec' });
    expect(m('limit', 0, new Blob(40).u32(0, 0).u32(4, 5))).toEqual({ text: ' -m limit --limit inf' });
    expect(m('icmp', 0, new Blob(4).u8(0, 8).u8(1, 0).u8(2, 0xff))).toEqual({ text: ' -m icmp --icmp-type 8' });
    expect(m('icmp', 0, new Blob(4).u8(0, 3).u8(1, 3).u8(2, 3).u8(3, 1))).toEqual({ text: ' -m icmp ! --icmp-type 3/3' });
    expect(m('icmp', 0, new Blob(4).u8(0, 0xff).u8(2, 0xff))).toEqual({ text: ' -m icmp --icmp-type any' });
    expect(m('icmp6', 0, new Blob(4).u8(0, 128).u8(2, 0xff), 'ipv6')).toEqual({ text: ' -m icmp6 --icmpv6-type 128' });
  });
});

describe('CT, NFLOG, NFQUEUE, TRACE, iprange', () => {
  it('CT: notrack, helper, timeout, events, zones; revision 2 with the NOTRACK alias prints nothing after -j NOTRACK', () => {
    expect(t('CT', 2, new Blob(72).u16(0, 1))).toEqual({ text: ' -j CT --notrack' });
    expect(t('CT', 2, new Blob(72).u16(0, 1 | 2))).toEqual({ text: ' -j NOTRACK' });
    expect(t('CT', 1, new Blob(72).u16(0, 1 | 2))).toEqual({ text: ' -j CT' });
    expect(t('CT', 1, new Blob(72).u16(0, 4).u16(2, 5).u32(4, 0b1000000011).u32(8, 1).str(12, 'ftp').str(28, 'tmo'))).toEqual({
      text: ' -j CT --helper ftp --timeout tmo --ctevents new,related,secmark --expevents new --zone-orig 5',
    });
    expect(t('CT', 0, new Blob(40).u16(0, 8 | 16))).toEqual({ text: ' -j CT --zone-reply mark' });
    expect(t('CT', 0, new Blob(40).str(12, 'x'.repeat(16)))).toHaveProperty('opaque');
  });
  it('NFLOG: quoted prefix, group, size or range, threshold', () => {
    expect(t('NFLOG', 0, new Blob(80).u32(0, 128).u16(4, 5).u16(6, 3).u16(8, 1).str(12, 'nf log'))).toEqual({ text: ' -j NFLOG --nflog-prefix "nf log" --nflog-group 5 --nflog-size 128 --nflog-threshold 3' });
    expect(t('NFLOG', 0, new Blob(80).u32(0, 64))).toEqual({ text: ' -j NFLOG --nflog-range 64' });
  });
  it('NFQUEUE revisions 0-3 and TRACE', () => {
    expect(t('NFQUEUE', 0, new Blob(2).u16(0, 7))).toEqual({ text: ' -j NFQUEUE --queue-num 7' });
    expect(t('NFQUEUE', 3, new Blob(6).u16(0, 2).u16(2, 4).u16(4, 3))).toEqual({ text: ' -j NFQUEUE --queue-balance 2:5 --queue-bypass --queue-cpu-fanout' });
    expect(t('NFQUEUE', 2, new Blob(6).u16(0, 1).u16(2, 1).u16(4, 1))).toEqual({ text: ' -j NFQUEUE --queue-num 1 --queue-bypass' });
    expect(t('TRACE', 0, Buffer.alloc(0))).toEqual({ text: ' -j TRACE' });
  });
  it('iprange v4 and v6', () => {
    expect(m('iprange', 1, new Blob(72).ip(0, '10.0.0.1').ip(16, '10.0.0.9').u8(64, 1 | 16))).toEqual({ text: ' -m iprange ! --src-range 10.0.0.1-10.0.0.9' });
    expect(m('iprange', 1, new Blob(72).ip(32, 'fd00::1').ip(48, 'fd00::ff').u8(64, 2), 'ipv6')).toEqual({ text: ' -m iprange --dst-range fd00::1-fd00::ff' });
  });
});
