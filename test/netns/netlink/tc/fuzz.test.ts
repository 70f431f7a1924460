/** Every tc decoder is total: arbitrary or damaged bytes give a result or a DecodeError, never another throw or a hang. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../../../agent/errors.js';
import { decodeBasic } from '../../../../agent/netns/netlink/tc/basic.js';
import { decodeBpf } from '../../../../agent/netns/netlink/tc/bpf.js';
import { decodeClass } from '../../../../agent/netns/netlink/tc/class.js';
import { decodeEmatchTree } from '../../../../agent/netns/netlink/tc/ematch.js';
import { decodeFifo } from '../../../../agent/netns/netlink/tc/fifo.js';
import { decodeFilter } from '../../../../agent/netns/netlink/tc/filter.js';
import { decodeHtbClass, decodeHtbQdisc } from '../../../../agent/netns/netlink/tc/htb.js';
import { decodeStats, decodeStats2 } from '../../../../agent/netns/netlink/tc/message.js';
import { decodeNetem } from '../../../../agent/netns/netlink/tc/netem.js';
import { decodePrio } from '../../../../agent/netns/netlink/tc/prio.js';
import { decodeQdisc } from '../../../../agent/netns/netlink/tc/qdisc.js';
import { decodeSfq } from '../../../../agent/netns/netlink/tc/sfq.js';
import { decodeTbf } from '../../../../agent/netns/netlink/tc/tbf.js';
import { decodeU32 } from '../../../../agent/netns/netlink/tc/u32.js';
import { hexLines, hexMessages } from '../fixtures.js';
import { nla, tcMessage } from './build.js';

const setName = (i: number): string | null => (i < 3 ? `set${i}` : null);
const ifname = (i: number): string => `if${i}`;

/** Decoders of a TCA_OPTIONS payload (or a nest inside one). */
const optionDecoders: [string, (b: Buffer) => unknown][] = [
  ['netem', (b) => decodeNetem(b)],
  ['tbf', (b) => decodeTbf(b)],
  ['htb qdisc', (b) => decodeHtbQdisc(b, 0x10000)],
  ['htb class', (b) => decodeHtbClass(b)],
  ['prio', (b) => decodePrio(b)],
  ['sfq', (b) => decodeSfq(b)],
  ['fifo', (b) => decodeFifo(b)],
  ['u32', (b) => decodeU32(b)],
  ['basic', (b) => decodeBasic(b, setName)],
  ['ematch tree', (b) => decodeEmatchTree(b, setName)],
  ['bpf', (b) => decodeBpf(b)],
  ['stats2', (b) => decodeStats2(b)],
  ['stats', (b) => decodeStats(b)],
];
const KINDS = ['netem', 'tbf', 'htb', 'prio', 'pfifo_fast', 'sfq', 'pfifo', 'bfifo', 'u32', 'basic', 'bpf', 'ingress', 'fq_codel'];
/** Decoders of whole message payloads. */
const messageDecoders: [string, (b: Buffer) => unknown][] = [
  ['qdisc', (b) => decodeQdisc(b, ifname)],
  ['class', (b) => decodeClass(b, ifname)],
  ['filter', (b) => decodeFilter(b, { ifname, setName })],
];

function total(f: (b: Buffer) => unknown, b: Buffer): void {
  try {
    f(b);
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
  }
}

/** Attribute trees with valid framing and random content: reaches the decoders' inner paths, not just length checks. */
const attrTree: fc.Arbitrary<Buffer> = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.tuple(fc.integer({ min: 0, max: 16 }), fc.uint8Array({ maxLength: 48 })).map(([t, d]) => nla(t, Buffer.from(d))),
    fc.tuple(fc.integer({ min: 0, max: 16 }), fc.array(tie('node'), { maxLength: 4 })).map(([t, kids]) => nla(t, Buffer.concat(kids as Buffer[]))),
  ),
})).node;
const attrs = fc.array(attrTree, { maxLength: 6 }).map((xs) => Buffer.concat(xs));

describe('tc decoders are total', () => {
  it('options decoders: arbitrary bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), fc.constantFrom(...optionDecoders), (bytes, [, f]) => total(f, Buffer.from(bytes))), { numRuns: 4000 });
  });

  it('options decoders: well-framed attribute trees with random content (after a random struct prefix)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 48 }), attrs, fc.constantFrom(...optionDecoders), (prefix, tree, [, f]) => {
        total(f, tree);
        total(f, Buffer.concat([Buffer.from(prefix), tree]));
      }),
      { numRuns: 4000 },
    );
  });

  it('message decoders: every kind with random options', () => {
    fc.assert(
      fc.property(fc.constantFrom(...KINDS), attrs, fc.uint8Array({ maxLength: 64 }), fc.constantFrom(...messageDecoders), (kind, tree, raw, [, f]) => {
        total(f, tcMessage({ ifindex: 2, handle: 0x10000, parent: 0xffffffff, info: 0x00010008, kind, options: tree }));
        total(f, tcMessage({ ifindex: 2, handle: 0x10000, parent: 0xffffffff, kind, options: Buffer.from(raw) }));
      }),
      { numRuns: 3000 },
    );
  });

  it('real and built messages with bytes changed or cut', () => {
    const real = [
      'qdisc-tbf-root.hex', 'qdisc-htb-layout.hex', 'class-htb-layout.hex', 'filter-u32-root.hex', 'filter-u32-class.hex', 'qdisc-ingress-clsact.hex',
      'filter-clsact-ingress.hex', 'filter-clsact-egress.hex', 'filter-ingress.hex',
    ].flatMap((f) => hexMessages(f).map((m) => m.payload));
    const basic = hexLines('basic-ematch-options.hex').map((o) => tcMessage({ ifindex: 2, handle: 7, parent: 0x10000, info: 0x00030008, kind: 'basic', options: o }));
    const corpus = [...real, ...basic];
    fc.assert(
      fc.property(
        fc.constantFrom(...corpus),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        fc.nat(),
        fc.constantFrom(...messageDecoders),
        (msg, edits, cut, [, f]) => {
          const b = Buffer.from(msg);
          for (const [at, v] of edits) b[at % b.length] = v;
          total(f, b.subarray(0, msg.length - (cut % (msg.length + 1))));
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('an ematch container pointing at itself or beyond the list is a DecodeError, not a hang', () => {
    const hdr = nla(1, Buffer.from([2, 0, 0, 0]));
    const selfLoop = nla(2, Buffer.concat([nla(1, Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])), nla(2, Buffer.from([0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))]));
    expect(() => decodeEmatchTree(Buffer.concat([hdr, selfLoop]), setName)).toThrow(DecodeError);
    const far = nla(2, nla(1, Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0])));
    expect(() => decodeEmatchTree(Buffer.concat([hdr, far]), setName)).toThrow(DecodeError);
  });
});
