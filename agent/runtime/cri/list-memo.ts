/**
 * Decoding of the list answers asked every collection (ListPodSandbox, ListContainers) that reuses the decoded item
 * of the previous answer when the item's bytes did not change: at 110 pods ~330 items, 127 KB, ~1 ms of decoding and
 * ~0.5 MB of garbage per collection, nearly all of it identical from one collection to the next.
 *
 * Why a reused item cannot be stale: it is reused only when the new item's bytes decode to the same value, which is
 * checked on the bytes, never assumed. Either the bytes are equal (memcmp), or they are the same sequence of top-level
 * fields, byte for byte, except that within a run of consecutive entries of one map field the entries come in another
 * order. That second case is needed because Go's protobuf marshals a map in its random iteration order: containerd
 * sends a pod's 3-4 labels rotated differently from call to call (and its list in a random order, so whole answers
 * are never equal). Decoding applies fields in order; non-map fields are equal and in the same order, so they decode
 * the same; map entries only set keys, and the previous item's maps were checked (when it was stored) to have one
 * key per entry, so no key is set twice and the order of the entries cannot change any value. The one difference is
 * the insertion order of a reused map's keys (the first seen, not this answer's): protobuf maps have no order and the
 * runtime's own changes on every call, and the agent only looks keys up (cri-runtime.ts copies pod labels).
 *
 * Reused values are shared between answers, so every decoded item is deep-frozen when stored: a consumer writing into
 * one would throw instead of corrupting a later collection (none writes: cri-runtime.ts reads and copies).
 * Entries of items absent from an answer are dropped with it. Anything unexpected (a field other than the list,
 * a malformed item) falls back to decodeMessage on the whole answer: same value or same DecodeError as without memo.
 */
import { DecodeError } from '../../errors.js';
import { ProtoReader, WIRE_LEN } from './proto-wire.js';
import { decodeMessage, decodeSubMessage, type Decoded, type FieldDef, type MessageDef } from './schema.js';
import { deepFreeze } from '../../deep-freeze.js';

/** Entries of one run of a map field compared at most (an item with a longer run is decoded again when its bytes change). */
const MAX_RUN = 32;

interface Entry {
  key: number;
  /** The item's bytes (a copy: the answer's buffer is not kept). */
  bytes: Buffer;
  value: Decoded;
  /** Every map field of `value` has one key per entry in `bytes`: entries may then come in any order. */
  permutable: boolean;
  /** Generation of the last answer that had this item. */
  seen: number;
}

/** Equal byte ranges (`a[as, as+n)` and `b[bs, bs+n)`): a loop for the short fields, memcmp for the long ones. */
function rangeEqual(a: Buffer, as: number, b: Buffer, bs: number, n: number): boolean {
  if (n > 24) return a.compare(b, bs, bs + n, as, as + n) === 0;
  for (let i = 0; i < n; i++) if (a[as + i] !== b[bs + i]) return false;
  return true;
}

/** Skip one whole field (tag included) from `r.pos`; returns its field number. */
function skipField(r: ProtoReader): number {
  const no = r.tag();
  r.skip(r.wire, no);
  return no;
}

const EMPTY = Buffer.alloc(0);
const runA = new Int32Array(2 * MAX_RUN);
const runB = new Int32Array(2 * MAX_RUN);

/**
 * From `r.pos`, the ranges of the consecutive fields numbered `no` (the first one starting at `first`, already
 * skipped) into `run` as start/end pairs; the reader stops before the next other field. -1 when there are more than MAX_RUN.
 */
function collectRun(r: ProtoReader, no: number, first: number, run: Int32Array): number {
  run[0] = first;
  run[1] = r.pos;
  let n = 1;
  while (!r.done) {
    const at = r.pos;
    if (r.tag() !== no) {
      r.pos = at;
      break;
    }
    r.skip(r.wire, no);
    if (n === MAX_RUN) return -1;
    run[2 * n] = at;
    run[2 * n + 1] = r.pos;
    n++;
  }
  return n;
}

/**
 * FNV-1a of `buf[start, end)` cut to 30 bits (a small integer: no heap number per key): the key an item's entry is
 * found by (a collision only costs a decode).
 */
function hashOf(buf: Buffer, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  return h & 0x3fffffff;
}

export class ListMemo {
  private readonly entries = new Map<number, Entry>();
  private generation = 0;
  private readonly list: FieldDef;
  private readonly item: MessageDef;
  private readonly mapFields: ReadonlySet<number>;
  /** Readers reused for every item (no object per item): the new item, the remembered one. */
  private readonly ra: ProtoReader;
  private readonly rb: ProtoReader;

  /** `def`: a message whose only field is a repeated message (the list). */
  constructor(readonly def: MessageDef) {
    const [list, ...rest] = def.fields;
    const t = list?.type;
    if (!list || rest.length > 0 || !list.repeated || typeof t !== 'object' || !('message' in t)) {
      throw new TypeError(`${def.name} is not a message holding one repeated message field`);
    }
    this.list = list;
    this.item = t.message;
    this.mapFields = new Set(t.message.fields.filter((f) => f.type === 'map').map((f) => f.no));
    this.ra = new ProtoReader(EMPTY, def.name);
    this.rb = new ProtoReader(EMPTY, def.name);
  }

  /** Items remembered (tests). */
  get size(): number {
    return this.entries.size;
  }

  /** The answer decoded as decodeMessage(def, buf) would, its unchanged items reused. Throws DecodeError only. */
  decode(buf: Buffer): Decoded {
    let out: Decoded | null;
    try {
      out = this.decodeItems(buf);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      // A malformed answer: decoded whole without the memo, which throws the DecodeError it always threw.
      out = null;
    }
    return out ?? decodeMessage(this.def, buf);
  }

  /** null: not the plain list shape (decoded whole instead). */
  private decodeItems(buf: Buffer): Decoded | null {
    const gen = ++this.generation;
    const items: Decoded[] = [];
    const r = new ProtoReader(buf, this.def.name);
    while (!r.done) {
      if (r.tag() !== this.list.no || r.wire !== WIRE_LEN) return null;
      const start = r.lengthDelimited();
      items.push(this.itemAt(buf, start, r.fieldEnd, gen));
    }
    for (const e of this.entries.values()) if (e.seen !== gen) this.entries.delete(e.key);
    // The readers must not keep the answer alive until the next one.
    this.ra.reset(EMPTY, 0, 0);
    this.rb.reset(EMPTY, 0, 0);
    return { [this.list.name]: items };
  }

  private itemAt(buf: Buffer, start: number, end: number, gen: number): Decoded {
    // Key: a hash of the item's first field (its ID: field 1, which the runtime writes first). It only picks the
    // candidate; the bytes decide.
    const r = this.ra.reset(buf, start, end);
    const key = r.done ? 0 : (skipField(r), hashOf(buf, start, r.pos));
    const e = this.entries.get(key);
    if (e !== undefined && this.same(e, buf, start, end)) {
      e.seen = gen;
      return e.value;
    }
    const value = deepFreeze(decodeSubMessage(this.item, buf, start, end, this.def.name, 1));
    const bytes = Buffer.from(buf.subarray(start, end));
    this.entries.set(key, { key, bytes, value, permutable: this.oneKeyPerEntry(bytes, value), seen: gen });
    return value;
  }

  /** The new item's bytes decode to `e.value` (see the header). */
  private same(e: Entry, buf: Buffer, start: number, end: number): boolean {
    const old = e.bytes;
    const n = end - start;
    if (old.length !== n) return false;
    if (rangeEqual(buf, start, old, 0, n)) return true;
    if (!e.permutable || this.mapFields.size === 0) return false;
    const a = this.ra.reset(buf, start, end);
    const b = this.rb.reset(old, 0, n);
    while (!a.done) {
      if (b.done) return false;
      const fa = a.pos;
      const fb = b.pos;
      const no = skipField(a);
      if (skipField(b) !== no) return false;
      if (!this.mapFields.has(no)) {
        if (a.pos - fa !== b.pos - fb || !rangeEqual(buf, fa, old, fb, a.pos - fa)) return false;
        continue;
      }
      const count = collectRun(a, no, fa, runA);
      if (count < 0 || collectRun(b, no, fb, runB) !== count) return false;
      // Each new entry equal to a distinct old one (the runs are a few entries: quadratic is cheapest).
      let used = 0;
      for (let i = 0; i < count; i++) {
        const s = runA[2 * i]!;
        const len = runA[2 * i + 1]! - s;
        let j = 0;
        for (; j < count; j++) {
          if ((used & (1 << j)) !== 0) continue;
          const t = runB[2 * j]!;
          if (runB[2 * j + 1]! - t === len && rangeEqual(buf, s, old, t, len)) break;
        }
        if (j === count) return false;
        used |= 1 << j;
      }
    }
    // Implied by the equal lengths (every field matched one of the same length); checked all the same.
    return b.done;
  }

  /** Whether every map field of the decoded item has as many keys as it had entries in its bytes. */
  private oneKeyPerEntry(bytes: Buffer, value: Decoded): boolean {
    if (this.mapFields.size === 0) return true;
    const entries = new Map<number, number>();
    const r = new ProtoReader(bytes, this.def.name);
    while (!r.done) {
      const no = skipField(r);
      if (this.mapFields.has(no)) entries.set(no, (entries.get(no) ?? 0) + 1);
    }
    for (const f of this.item.fields) {
      if (f.type === 'map' && Object.keys(value[f.name] as Decoded).length !== (entries.get(f.no) ?? 0)) return false;
    }
    return true;
  }
}
