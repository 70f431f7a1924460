/**
 * ListMemo (agent/runtime/cri/list-memo.ts): an answer decoded through the memo is always what decodeMessage gives
 * for the same bytes (maps compared by content: their key order is the one thing allowed to differ), whatever the
 * memo saw before; unchanged items, also with their map entries in another order (as containerd sends them), are
 * the previous objects, frozen; a changed byte is never served from the memo.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ListMemo } from '../../../agent/runtime/cri/list-memo.js';
import { ListContainersResponseDef, ListPodSandboxResponseDef, PodSandboxDef } from '../../../agent/runtime/cri/messages.js';
import { ProtoWriter } from '../../../agent/runtime/cri/proto-wire.js';
import { decodeMessage, encodeMessage, MAP_ENTRY, type Decoded } from '../../../agent/runtime/cri/schema.js';
import { messageArbitrary } from './arbitrary.js';

function sandbox(id: string, labels: [string, string][], state = 'SANDBOX_READY'): Decoded {
  return { id, metadata: { name: `pod-${id}`, uid: `uid-${id}`, namespace: 'ns', attempt: 0 }, state, created_at: '1700000000000000000', labels: Object.fromEntries(labels) };
}

function answer(items: Decoded[]): Buffer {
  return encodeMessage(ListPodSandboxResponseDef, { items });
}

type Outcome = { value: Decoded } | { error: string };
function outcome(f: () => Decoded): Outcome {
  try {
    return { value: f() };
  } catch (err) {
    return { error: `${(err as Error).name}: ${(err as Error).message}` };
  }
}

/** The memo's decoding of `buf` is decodeMessage's: same value (toEqual: maps by content) or the same error. */
function expectSameAsPlain(memo: ListMemo, buf: Buffer): Decoded | null {
  const got = outcome(() => memo.decode(buf));
  const want = outcome(() => decodeMessage(memo.def, buf));
  expect(got).toEqual(want);
  return 'value' in got ? got.value : null;
}

const LABELS: [string, string][] = [['app', 'web'], ['io.kubernetes.pod.name', 'web-1'], ['tier', 'front']];
const rotate = <T>(a: T[], n: number): T[] => [...a.slice(n), ...a.slice(0, n)];

describe('ListMemo', () => {
  it('the same answer twice: the same (frozen) item objects', () => {
    const memo = new ListMemo(ListPodSandboxResponseDef);
    const buf = answer([sandbox('a', LABELS), sandbox('b', [])]);
    const first = expectSameAsPlain(memo, buf)!;
    const second = expectSameAsPlain(memo, buf)!;
    expect(second).not.toBe(first);
    expect((second.items as Decoded[])[0]).toBe((first.items as Decoded[])[0]);
    expect((second.items as Decoded[])[1]).toBe((first.items as Decoded[])[1]);
    const item = (second.items as Decoded[])[0]!;
    expect(Object.isFrozen(item) && Object.isFrozen(item.labels) && Object.isFrozen(item.metadata)).toBe(true);
    expect(() => {
      (item.labels as Record<string, string>).app = 'db';
    }).toThrow(TypeError);
  });

  it('items in another order, their labels rotated (Go map order): reused, in the new order', () => {
    const memo = new ListMemo(ListPodSandboxResponseDef);
    const first = expectSameAsPlain(memo, answer([sandbox('a', LABELS), sandbox('b', LABELS)]))!;
    const [a, b] = first.items as Decoded[];
    for (let n = 1; n < LABELS.length; n++) {
      const again = expectSameAsPlain(memo, answer([sandbox('b', rotate(LABELS, n)), sandbox('a', rotate(LABELS, n))]))!;
      expect(again.items).toHaveLength(2);
      expect((again.items as Decoded[])[0]).toBe(b);
      expect((again.items as Decoded[])[1]).toBe(a);
    }
  });

  it('one changed field, label value, label key or map field: that item decoded again, never the old one', () => {
    const memo = new ListMemo(ListPodSandboxResponseDef);
    const base = (): Decoded => sandbox('a', LABELS);
    expectSameAsPlain(memo, answer([base(), sandbox('b', [])]));
    const changes: Decoded[] = [
      sandbox('a', LABELS, 'SANDBOX_NOTREADY'),
      sandbox('a', [['app', 'wex'], LABELS[1]!, LABELS[2]!]),
      sandbox('a', [['apq', 'web'], LABELS[2]!, LABELS[1]!]),
      sandbox('a', [LABELS[1]!, LABELS[2]!, ['tier', 'frons']]),
      { ...sandbox('a', LABELS.slice(1)), annotations: Object.fromEntries(LABELS.slice(0, 1)) },
      { ...sandbox('a', LABELS), created_at: '1700000000000000001' },
    ];
    for (const changed of changes) {
      const got = expectSameAsPlain(memo, answer([changed, sandbox('b', [])]))!;
      expect((got.items as Decoded[])[0]).toEqual(decodeMessage(PodSandboxDef, encodeMessage(PodSandboxDef, changed)));
      // And back: the original again, not the changed one.
      const back = expectSameAsPlain(memo, answer([base(), sandbox('b', [])]))!;
      expect((back.items as Decoded[])[0]).toEqual(decodeMessage(PodSandboxDef, encodeMessage(PodSandboxDef, base())));
    }
  });

  it('a label given twice: its entries in another order are another value, never reused', () => {
    const memo = new ListMemo(ListPodSandboxResponseDef);
    const item = (values: string[]): Buffer => {
      const w = new ProtoWriter();
      w.bytes(1, Buffer.from('sandbox-dup'));
      for (const v of values) w.bytes(5, encodeMessage(MAP_ENTRY, { key: 'k', value: v }));
      const list = new ProtoWriter();
      list.bytes(1, w.finish());
      return Buffer.from(list.finish());
    };
    const one = expectSameAsPlain(memo, item(['1', '2']))!;
    expect((one.items as Decoded[])[0]!.labels).toEqual({ k: '2' });
    const two = expectSameAsPlain(memo, item(['2', '1']))!;
    expect((two.items as Decoded[])[0]!.labels).toEqual({ k: '1' });
  });

  it('entries matched one for one: one old entry twice (same length) is another value', () => {
    const memo = new ListMemo(ListPodSandboxResponseDef);
    const first = expectSameAsPlain(memo, answer([sandbox('a', [['a', '1'], ['b', '2'], ['c', '3']])]))!;
    expect((first.items as Decoded[])[0]!.labels).toEqual({ a: '1', b: '2', c: '3' });
    const item = new ProtoWriter();
    for (const [key, value] of [['a', '1'], ['a', '1'], ['b', '2']]) item.bytes(5, encodeMessage(MAP_ENTRY, { key, value }));
    const w = new ProtoWriter();
    w.bytes(1, Buffer.concat([encodeMessage(PodSandboxDef, sandbox('a', [])), item.finish()]));
    const second = expectSameAsPlain(memo, Buffer.from(w.finish()))!;
    expect((second.items as Decoded[])[0]!.labels).toEqual({ a: '1', b: '2' });
  });

  it('items gone from an answer are forgotten', () => {
    const memo = new ListMemo(ListPodSandboxResponseDef);
    expectSameAsPlain(memo, answer([sandbox('a', LABELS), sandbox('b', LABELS)]));
    expect(memo.size).toBe(2);
    expectSameAsPlain(memo, answer([sandbox('b', LABELS)]));
    expect(memo.size).toBe(1);
    expectSameAsPlain(memo, answer([]));
    expect(memo.size).toBe(0);
  });

  it('a malformed answer: the DecodeError decodeMessage gives, before and after good ones', () => {
    const memo = new ListMemo(ListPodSandboxResponseDef);
    const good = answer([sandbox('a', LABELS), sandbox('b', LABELS)]);
    for (const bad of [good.subarray(0, good.length - 3), Buffer.concat([good, Buffer.from([0x08, 0x01])]), Buffer.from([0xff])]) {
      expect(expectSameAsPlain(memo, bad)).toBeNull();
      expectSameAsPlain(memo, good);
    }
  });

  it('any answer after any other (generated lists, their bytes flipped, cut, items shuffled): decodeMessage\'s value or error', () => {
    const memo = new ListMemo(ListContainersResponseDef);
    const list = messageArbitrary(ListContainersResponseDef);
    fc.assert(
      fc.property(list, fc.array(fc.nat(), { maxLength: 6 }), fc.nat(), (value, flips, cut) => {
        const buf = encodeMessage(ListContainersResponseDef, value);
        expectSameAsPlain(memo, buf);
        // Shuffled items with their maps rotated (reuse), then the same bytes altered (no stale reuse).
        const containers = [...(value.containers as Decoded[])].reverse().map((c) => ({
          ...c,
          labels: Object.fromEntries(rotate(Object.entries(c.labels as Record<string, string>), 1)),
        }));
        expectSameAsPlain(memo, encodeMessage(ListContainersResponseDef, { containers }));
        const mutated = Buffer.from(buf);
        for (const f of flips) if (mutated.length > 0) mutated[f % mutated.length]! ^= 1 << (f % 8);
        expectSameAsPlain(memo, mutated);
        expectSameAsPlain(memo, buf.subarray(0, buf.length === 0 ? 0 : cut % buf.length));
        expectSameAsPlain(memo, buf);
      }),
      { numRuns: 300 },
    );
  });
});
