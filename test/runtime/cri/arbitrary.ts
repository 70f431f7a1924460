/**
 * fast-check arbitraries for CRI messages, from the agent's own schema tables (agent/runtime/cri/messages.ts):
 * full objects in the decoded shape (every field present, int64 as decimal strings, enums by name, sub-messages or
 * null, maps), with values across each type's whole range. Used to compare the codec with protobufjs.
 */
import fc from 'fast-check';
import type { FieldDef, MessageDef } from '../../../agent/runtime/cri/schema.js';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** Map keys: anything but `__proto__` (protobufjs's toObject would set the prototype; the codec is tested on it apart). */
const mapKey = fc.string({ maxLength: 12 }).filter((k) => k !== '__proto__');

function fieldValue(f: FieldDef, depth: number): fc.Arbitrary<unknown> {
  const t = f.type;
  if (t === 'map') return fc.dictionary(mapKey, fc.string({ maxLength: 20 }), { maxKeys: 3 });
  let one: fc.Arbitrary<unknown>;
  if (t === 'string') one = fc.string({ unit: 'grapheme', maxLength: 24 });
  else if (t === 'bool') one = fc.boolean();
  else if (t === 'int32') one = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
  else if (t === 'uint32') one = fc.integer({ min: 0, max: 2 ** 32 - 1 });
  else if (t === 'int64') one = fc.bigInt({ min: INT64_MIN, max: INT64_MAX }).map(String);
  else if (t === 'uint64') one = fc.bigInt({ min: 0n, max: UINT64_MAX }).map(String);
  else if ('enum' in t) one = fc.constantFrom(...t.enum.values);
  else {
    const sub = messageArbitrary(t.message, depth + 1);
    return f.repeated ? fc.array(sub, { maxLength: 3 }) : fc.option(sub, { nil: null });
  }
  return f.repeated ? fc.array(one, { maxLength: 3 }) : one;
}

/** A whole message in the decoded shape. */
export function messageArbitrary(def: MessageDef, depth = 0): fc.Arbitrary<Record<string, unknown>> {
  if (depth > 8) throw new Error(`${def.name}: schema nested too deep for the arbitrary`);
  return fc.record(Object.fromEntries(def.fields.map((f) => [f.name, fieldValue(f, depth)])));
}

/** Every message reachable from `roots` (each once). */
export function reachable(roots: MessageDef[]): MessageDef[] {
  const seen = new Set<MessageDef>();
  const visit = (d: MessageDef): void => {
    if (seen.has(d)) return;
    seen.add(d);
    for (const f of d.fields) if (typeof f.type === 'object' && 'message' in f.type) visit(f.type.message);
  };
  roots.forEach(visit);
  return [...seen];
}
