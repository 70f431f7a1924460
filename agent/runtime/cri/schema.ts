/**
 * Declarative protobuf messages and the one decoder/encoder that walks them (proto-wire.ts underneath).
 *
 * A MessageDef lists a message's fields as in the .proto (number, name, type); decode() gives the object
 * @grpc/proto-loader gave the agent before with { keepCase, longs: String, enums: String, defaults: true, arrays,
 * objects }: every field present, snake_case names, 64-bit integers as decimal strings, enums by name, absent
 * sub-messages null, repeated fields [], maps {}. Two deliberate differences, both only on bytes a conforming
 * runtime never sends: an enum number the .proto does not name decodes to the enum's `unknown` fallback (named in
 * its EnumDef) instead of the bare number, and a known field arriving with the wrong wire type is a DecodeError.
 * A singular message field seen twice keeps the last one (as protobufjs's decoder does).
 */
import { DecodeError } from '../../errors.js';
import { MAX_DEPTH, ProtoReader, ProtoWriter, WIRE_LEN, WIRE_VARINT, varintToDecimal } from './proto-wire.js';

export type ScalarType = 'string' | 'bool' | 'int32' | 'uint32' | 'int64' | 'uint64';

export interface EnumDef {
  name: string;
  /** Names by number. */
  values: readonly string[];
  /** What a number missing from `values` decodes to. */
  unknown: string;
}

export type FieldType = ScalarType | { enum: EnumDef } | { message: MessageDef } | 'map';

export interface FieldDef {
  no: number;
  name: string;
  /** `map` is map<string, string> (the only map type the CRI uses). */
  type: FieldType;
  repeated?: true;
}

export interface MessageDef {
  name: string;
  fields: readonly FieldDef[];
}

export type Decoded = Record<string, unknown>;

const byNumber = new WeakMap<MessageDef, Map<number, FieldDef>>();
function fieldsByNumber(def: MessageDef): Map<number, FieldDef> {
  let m = byNumber.get(def);
  if (!m) byNumber.set(def, (m = new Map(def.fields.map((f) => [f.no, f]))));
  return m;
}

function defaultValue(f: FieldDef): unknown {
  if (f.repeated) return [];
  const t = f.type;
  if (t === 'map') return {};
  if (t === 'string') return '';
  if (t === 'bool') return false;
  if (t === 'int32' || t === 'uint32') return 0;
  if (t === 'int64' || t === 'uint64') return '0';
  if ('enum' in t) return t.enum.values[0] ?? t.enum.unknown;
  return null;
}

/** The value `f` takes from the wire, the reader positioned after its tag. */
function readValue(r: ProtoReader, f: FieldDef, wire: number, depth: number): unknown {
  const t = f.type;
  const expected = t === 'string' || t === 'map' || (typeof t === 'object' && 'message' in t) ? WIRE_LEN : WIRE_VARINT;
  if (wire !== expected) r.fail(`field ${f.name} (${f.no}) has wire type ${wire}, expected ${expected}`);
  if (t === 'string') {
    const start = r.lengthDelimited();
    return r.buf.toString('utf8', start, r.fieldEnd);
  }
  if (t === 'map' || (typeof t === 'object' && 'message' in t)) {
    // The sub-message is read by the same reader, its end narrowed to the field's (no reader object per message).
    const start = r.lengthDelimited();
    const end = r.fieldEnd;
    const outer = r.end;
    r.pos = start;
    r.end = end;
    const v = decodeFrom(r, t === 'map' ? MAP_ENTRY : t.message, depth + 1);
    r.pos = end;
    r.end = outer;
    return v;
  }
  const lo = r.varint64();
  const hi = r.hi;
  if (t === 'bool') return lo !== 0 || hi !== 0;
  if (t === 'uint32') return lo;
  if (t === 'int32') return lo | 0;
  if (t === 'int64' || t === 'uint64') return varintToDecimal(lo, hi, t === 'int64');
  return t.enum.values[lo | 0] ?? t.enum.unknown;
}

/**
 * An own enumerable property, also for the key `__proto__` (map keys come from the runtime). Plain assignment
 * everywhere else: on a plain object it makes the same own, writable, enumerable, configurable property (the only
 * accessor on Object.prototype is `__proto__`; its other properties are writable data properties, which an
 * assignment shadows), without a descriptor object per map entry (~5,000 labels and annotations per collection).
 */
function setKey(obj: Decoded, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

/**
 * One map<string, string> entry set into `target`, exactly as decoding it as a MAP_ENTRY message at `depth` and
 * setting its key would (same defaults, last value wins, unknown fields skipped, same errors at the same offsets),
 * without an entry object per label (~2,000 per collection at 110 pods).
 */
function readMapEntry(r: ProtoReader, f: FieldDef, wire: number, target: Decoded, depth: number): void {
  if (wire !== WIRE_LEN) r.fail(`field ${f.name} (${f.no}) has wire type ${wire}, expected ${WIRE_LEN}`);
  const start = r.lengthDelimited();
  const end = r.fieldEnd;
  const outer = r.end;
  r.pos = start;
  r.end = end;
  if (depth > MAX_DEPTH) r.fail(`messages nested deeper than ${MAX_DEPTH}`);
  let key = '';
  let value = '';
  while (!r.done) {
    const field = r.tag();
    const w = r.wire;
    if (field !== 1 && field !== 2) {
      r.skip(w, field);
      continue;
    }
    const s = readValue(r, field === 1 ? MAP_KEY : MAP_VALUE, w, depth) as string;
    if (field === 1) key = s;
    else value = s;
  }
  r.pos = end;
  r.end = outer;
  setKey(target, key, value);
}

function decodeFrom(r: ProtoReader, def: MessageDef, depth: number): Decoded {
  if (depth > MAX_DEPTH) r.fail(`messages nested deeper than ${MAX_DEPTH}`);
  const out: Decoded = {};
  for (const f of def.fields) out[f.name] = defaultValue(f);
  const fields = fieldsByNumber(def);
  while (!r.done) {
    const field = r.tag();
    const wire = r.wire;
    const f = fields.get(field);
    if (!f) {
      r.skip(wire, field);
      continue;
    }
    if (f.type === 'map') {
      readMapEntry(r, f, wire, out[f.name] as Decoded, depth + 1);
      continue;
    }
    const v = readValue(r, f, wire, depth);
    if (f.repeated) (out[f.name] as unknown[]).push(v);
    else out[f.name] = v;
  }
  return out;
}

/** Decode a whole buffer as `def`. Throws DecodeError only. */
export function decodeMessage(def: MessageDef, buf: Buffer): Decoded {
  try {
    return decodeFrom(new ProtoReader(buf, def.name), def, 0);
  } catch (err) {
    if (err instanceof DecodeError) throw err;
    // Defensive: the decoder is total by construction; anything else is a bug, still reported as a DecodeError.
    throw new DecodeError(def.name, 0, `decoder failure: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
}

/**
 * Decode `buf[start, end)` as `def` nested `depth` levels deep in a message named `what`: exactly what decodeMessage
 * on the enclosing message does for that field (same values, same DecodeErrors at the same offsets).
 */
export function decodeSubMessage(def: MessageDef, buf: Buffer, start: number, end: number, what: string, depth: number): Decoded {
  return decodeFrom(new ProtoReader(buf, what, start, end), def, depth);
}

// ---------------------------------------------------------------------------------------------------------------
// Encoding (requests): fields left out, undefined, null or at their proto3 default are not written.

/** Whether `v` is the proto3 default of a scalar of type `t` (the decimal string '0' is a default only for 64-bit integers). */
function isDefault(t: ScalarType | { enum: EnumDef }, v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (t === 'string') return v === '';
  if (t === 'int64' || t === 'uint64') return v === '0' || v === 0 || v === 0n;
  return v === 0 || v === false || (typeof t === 'object' && v === t.enum.values[0]);
}

function writeScalar(w: ProtoWriter, f: FieldDef, t: ScalarType | { enum: EnumDef }, v: unknown): void {
  let n: number | bigint;
  if (t === 'string') {
    w.bytes(f.no, Buffer.from(String(v), 'utf8'));
    return;
  }
  if (t === 'bool') n = v ? 1 : 0;
  else if (typeof t === 'object') {
    const i = typeof v === 'string' ? t.enum.values.indexOf(v) : Number(v);
    if (!Number.isInteger(i) || i < 0) throw new TypeError(`${f.name}: ${String(v)} is not a ${t.enum.name}`);
    n = i;
  } else if (t === 'int64' || t === 'uint64') n = BigInt(v as string | number | bigint);
  else n = Number(v);
  if (typeof n === 'number' && !Number.isInteger(n)) throw new TypeError(`${f.name}: ${String(v)} is not an integer`);
  w.tag(f.no, WIRE_VARINT);
  if (typeof n === 'bigint') w.varintBig(n);
  else if (t === 'uint32') w.varint(n >>> 0);
  else w.varint(n | 0);
}

function encodeInto(w: ProtoWriter, def: MessageDef, obj: Decoded): void {
  for (const f of def.fields) {
    const v = obj[f.name];
    if (v === undefined || v === null) continue;
    const t = f.type;
    if (t === 'map') {
      for (const [key, value] of Object.entries(v as Record<string, string>)) w.bytes(f.no, encodeMessage(MAP_ENTRY, { key, value }));
      continue;
    }
    for (const item of f.repeated ? (v as unknown[]) : [v]) {
      if (typeof t === 'object' && 'message' in t) w.bytes(f.no, encodeMessage(t.message, item as Decoded));
      else if (f.repeated || !isDefault(t, item)) writeScalar(w, f, t, item);
    }
  }
}

/** Encode an object shaped like decode()'s output (partial: missing fields are defaults). Throws TypeError on a bad value. */
export function encodeMessage(def: MessageDef, obj: Decoded): Buffer {
  const w = new ProtoWriter();
  encodeInto(w, def, obj);
  return w.finish();
}

const MAP_KEY: FieldDef = { no: 1, name: 'key', type: 'string' };
const MAP_VALUE: FieldDef = { no: 2, name: 'value', type: 'string' };

/** map<string, string> entries. */
export const MAP_ENTRY: MessageDef = { name: 'MapEntry', fields: [MAP_KEY, MAP_VALUE] };
