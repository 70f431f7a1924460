import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fixedPoint, ipv4MaskNumeric, ipv6At, ipv6MaskNumeric, saveString } from '../../../../agent/netns/netlink/xt/format.js';
import { tokenizeRule } from '../../../../agent/netns/nsenter/iptables.js';

describe('format primitives', () => {
  it('ipv6At prints what glibc inet_ntop prints (cases generated with inet_ntop on this machine)', () => {
    const cases: [string, string][] = [
      ['00000000000000000000000000000000', '::'],
      ['00000000000000000000000000000001', '::1'],
      ['00000000000000000000ffff01020304', '::ffff:1.2.3.4'],
      ['00000000000000000000000001020304', '::1.2.3.4'],
      ['0000000000000000000000000000ffff', '::ffff'],
      ['00000000000000000000ffff00000000', '::ffff:0.0.0.0'],
      ['20010db8000000000001000000000001', '2001:db8::1:0:0:1'],
      ['20010db8000000010000000000000001', '2001:db8:0:1::1'],
      ['fe800000000000000000000000000000', 'fe80::'],
      ['00010000000000000000000000000000', '1::'],
      ['00000001000000000000000100000000', '0:1::1:0:0'],
      ['20010db8000100000000000100000001', '2001:db8:1::1:0:1'],
      ['0000000000000000ffff000001020304', '::ffff:0:102:304'],
      ['00000000000000000000fffe01020304', '::fffe:102:304'],
    ];
    for (const [hex, text] of cases) expect(ipv6At(Buffer.from(hex, 'hex'), 0)).toBe(text);
  });

  it('masks: empty for a host mask, a prefix, or the mask itself when not contiguous', () => {
    expect(ipv4MaskNumeric(Buffer.from([255, 255, 255, 255]), 0)).toBe('');
    expect(ipv4MaskNumeric(Buffer.from([255, 255, 240, 0]), 0)).toBe('/20');
    expect(ipv4MaskNumeric(Buffer.from([0, 0, 0, 0]), 0)).toBe('/0');
    expect(ipv4MaskNumeric(Buffer.from([255, 0, 255, 0]), 0)).toBe('/255.0.255.0');
    expect(ipv6MaskNumeric(Buffer.alloc(16, 0xff), 0)).toBe('');
    expect(ipv6MaskNumeric(Buffer.from('ffffffffffffffff0000000000000000', 'hex'), 0)).toBe('/64');
    expect(ipv6MaskNumeric(Buffer.from('ff00ff00000000000000000000000000', 'hex'), 0)).toBe('/ff00:ff00::');
  });

  it('fixedPoint rounds exact ties to even, like glibc printf', () => {
    expect(fixedPoint(1n, 2n, 0)).toBe('0');
    expect(fixedPoint(3n, 2n, 0)).toBe('2');
    expect(fixedPoint(5n, 2n, 0)).toBe('2');
    expect(fixedPoint(1n, 8n, 2)).toBe('0.12');
    expect(fixedPoint(3n, 8n, 2)).toBe('0.38');
  });

  it('saveString quotes exactly when needed, and what it prints tokenizes back to the value', () => {
    expect(saveString('KUBE-SVC_1')).toBe(' KUBE-SVC_1');
    expect(saveString('a.b')).toBe(' "a.b"');
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (s) => {
        const printed = saveString(s);
        const { tokens, error } = tokenizeRule(`--comment${printed}`);
        expect(error).toBeNull();
        // Whitespace other than space/tab inside a quoted value is kept; the tokenizer splits only outside quotes.
        expect(tokens.map((t) => t.value)).toEqual(['--comment', s]);
      }),
    );
  });
});
