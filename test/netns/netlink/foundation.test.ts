import { statSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { DecodeError, NetlinkError } from '../../../agent/errors.js';
import { currentNetnsInode, withNetns } from '../../../agent/netns/netlink/enter.js';
import { NLMSG_DONE, encodeMessage, formatIpv6, maskPrefixLength, parseAttrs, read, splitMessages } from '../../../agent/netns/netlink/nlmsg.js';
import { describeIntegration } from '../../helpers/env.js';
import { createNetns, destroyAll } from '../../helpers/netns.js';

const RTM_GETLINK = 18;
const RTM_NEWLINK = 16;
const IFLA_IFNAME = 3;

describe('nlmsg codec', () => {
  it('encodes a request header and splits messages back', () => {
    const m = encodeMessage(RTM_GETLINK, 0x301, 7, Buffer.alloc(16));
    expect(m.length).toBe(32);
    expect(m.readUInt32LE(0)).toBe(32);
    const back = splitMessages(Buffer.concat([m, encodeMessage(NLMSG_DONE, 2, 7, Buffer.alloc(4))]));
    expect(back.map((x) => [x.type, x.flags, x.seq, x.payload.length])).toEqual([[RTM_GETLINK, 0x301, 7, 16], [NLMSG_DONE, 2, 7, 4]]);
  });

  it('parses attributes with padding and the nested flag', () => {
    const a = Buffer.from([7, 0, 3, 0, 0x65, 0x74, 0x68, 0, 8, 0, 0x01, 0x80, 1, 0, 0, 0]);
    const attrs = parseAttrs(a);
    expect(attrs.map((x) => [x.type, x.nested, x.data.length])).toEqual([[3, false, 3], [1, true, 4]]);
    expect(read.str(attrs[0]!.data)).toBe('eth');
  });

  it('formats IPv6 as iproute2 and iptables print it, and masks as prefix lengths', () => {
    expect(formatIpv6(Buffer.from('fd000000000000000000000000000001', 'hex'))).toBe('fd00::1');
    expect(formatIpv6(Buffer.alloc(16))).toBe('::');
    expect(formatIpv6(Buffer.from('20010db8000100000000000100000001', 'hex'))).toBe('2001:db8:1::1:0:1');
    expect(formatIpv6(Buffer.from('00000000000000000000ffff0a000001', 'hex'))).toBe('::ffff:10.0.0.1');
    expect(maskPrefixLength(Buffer.from([255, 255, 240, 0]))).toBe(20);
    expect(maskPrefixLength(Buffer.from([255, 0, 255, 0]))).toBeNull();
  });

  it('arbitrary bytes give messages or a DecodeError, never another throw', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const b = Buffer.from(bytes);
      for (const f of [() => splitMessages(b), () => parseAttrs(b)]) {
        try {
          f();
        } catch (err) {
          expect(err).toBeInstanceOf(DecodeError);
        }
      }
    }));
  });
});

describeIntegration('withNetns on a real namespace', { root: true, commands: ['ip', 'iptables-legacy'] }, () => {
  afterAll(destroyAll);

  it('dumps the links of the namespace from a socket opened inside, and the thread comes back', async () => {
    const ns = await createNetns('nlf');
    await ns.addPodInterface({ addr: '10.77.0.2/24' });
    const home = currentNetnsInode();
    const { value: names, inode } = withNetns(ns.path, statSync(ns.path).ino, (inside) => {
      expect(currentNetnsInode()).toBe(statSync(ns.path).ino);
      return inside.route();
    });
    expect(currentNetnsInode()).toBe(home);
    expect(inode).toBe(statSync(ns.path).ino);
    const r = names.dump('RTM_GETLINK dump', RTM_GETLINK, Buffer.alloc(16), { maxBytes: 1 << 20, deadline: performance.now() + 1000 });
    names.close();
    const ifnames = r.messages.filter((m) => m.type === RTM_NEWLINK).map((m) => read.str(parseAttrs(m.payload, 16).find((a) => a.type === IFLA_IFNAME)!.data));
    expect(ifnames.sort()).toEqual(['eth0', 'lo']);
    expect(r.truncated).toBe(false);
  });

  it('refuses a namespace whose inode is not the expected one, and a path that is gone', async () => {
    const ns = await createNetns('nlf');
    expect(() => withNetns(ns.path, 12345, () => 1)).toThrow(NetlinkError);
    try {
      withNetns('/var/run/netns/does-not-exist-nlf', null, () => 1);
      expect.unreachable();
    } catch (err) {
      expect((err as NetlinkError).reason).toBe('vanished');
    }
  });

  it('reads /proc/thread-self/net files as seen from inside: the legacy tables of that namespace only', async () => {
    const ns = await createNetns('nlf');
    const other = await createNetns('nlf');
    await ns.exec(['iptables-legacy', '-t', 'mangle', '-S']);
    await ns.exec(['iptables-legacy', '-t', 'raw', '-S']);
    const inside = withNetns(ns.path, null, (i) => i.procNet('ip_tables_names')).value;
    expect(inside?.split('\n').filter((l) => l !== '').sort()).toEqual(['mangle', 'raw']);
    const elsewhere = withNetns(other.path, null, (i) => i.procNet('ip_tables_names')).value;
    expect(elsewhere ?? '').toBe('');
    const dev = withNetns(ns.path, null, (i) => i.procNet('dev')).value!;
    expect(dev).toMatch(/^Inter-\|/);
    expect(dev).toMatch(/\blo:/);
  });

  it('cuts a dump at its byte cap and says so', async () => {
    const ns = await createNetns('nlf');
    await ns.addPodInterface({ addr: '10.77.1.2/24' });
    const { value: s } = withNetns(ns.path, null, (inside) => inside.route());
    const r = s.dump('RTM_GETLINK dump', RTM_GETLINK, Buffer.alloc(16), { maxBytes: 100, deadline: performance.now() + 1000 });
    expect(r.truncated).toBe(true);
    expect(r.messages.length).toBe(0);
    s.close();
  });
});
