/**
 * The CRI codec (agent/runtime/cri/schema.ts + messages.ts) against protos/cri.proto and against protobufjs as
 * @grpc/proto-loader drives it (the implementation the agent used before):
 * - every schema table matches the .proto's descriptor field by field (numbers, names, types, repeated, maps, enum
 *   values), and covers every field the .proto declares;
 * - generated requests and responses of the six RPCs: protobufjs encodes -> the codec decodes to exactly what
 *   proto-loader's deserializer gives; the codec encodes -> proto-loader decodes the same object back;
 * - unknown fields of every wire type are skipped; map keys like __proto__ stay plain keys;
 * - arbitrary bytes give an object or a DecodeError, never another exception.
 */
import * as protoLoader from '@grpc/proto-loader';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../../agent/errors.js';
import { CRI_RPCS, ListPodSandboxResponseDef, PodSandboxDef } from '../../../agent/runtime/cri/messages.js';
import { ProtoWriter, WIRE_EGROUP, WIRE_I32, WIRE_I64, WIRE_SGROUP, WIRE_VARINT } from '../../../agent/runtime/cri/proto-wire.js';
import { decodeMessage, encodeMessage, type Decoded, type FieldDef, type MessageDef } from '../../../agent/runtime/cri/schema.js';
import { criServiceDefinition, criProtoPath, PROTO_LOADER_OPTIONS } from '../../helpers/cri-grpc.js';
import { messageArbitrary, reachable } from './arbitrary.js';

const pkg = protoLoader.loadSync(criProtoPath(), PROTO_LOADER_OPTIONS);
const service = criServiceDefinition('v1');
const RUNS = 150;

interface FieldDescriptor {
  name: string;
  number: number;
  label: string;
  type: string;
  typeName: string;
}
interface MessageDescriptor {
  name: string;
  field: FieldDescriptor[];
  nestedType: { name: string; options: { mapEntry?: boolean } | null; field: FieldDescriptor[] }[];
}

function descriptor(name: string): MessageDescriptor {
  const d = pkg[`runtime.v1.${name}`] as { format: string; type: MessageDescriptor } | undefined;
  if (!d || !d.format.includes('DescriptorProto') || d.format.includes('Enum')) throw new Error(`runtime.v1.${name} is not a message of protos/cri.proto`);
  return d.type;
}

function enumValues(name: string): string[] {
  const d = pkg[`runtime.v1.${name}`] as { type: { value: { name: string; number: number }[] } } | undefined;
  if (!d) throw new Error(`runtime.v1.${name} is not an enum of protos/cri.proto`);
  return [...d.type.value].sort((a, b) => a.number - b.number).map((v) => v.name);
}

const SCALARS: Record<string, string> = { TYPE_STRING: 'string', TYPE_BOOL: 'bool', TYPE_INT32: 'int32', TYPE_UINT32: 'uint32', TYPE_INT64: 'int64', TYPE_UINT64: 'uint64' };

/** What the .proto says of one field, in the schema's own terms. */
function protoField(msg: MessageDescriptor, f: FieldDescriptor): unknown {
  const short = f.typeName.split('.').pop()!;
  const nested = msg.nestedType.find((n) => n.name === short);
  if (nested?.options?.mapEntry) {
    return { no: f.number, name: f.name, type: 'map', key: nested.field.map((x) => `${x.name}:${x.type}`) };
  }
  const base = { no: f.number, name: f.name, ...(f.label === 'LABEL_REPEATED' ? { repeated: true } : {}) };
  if (f.type === 'TYPE_ENUM') return { ...base, type: { enum: short, values: enumValues(short) } };
  if (f.type === 'TYPE_MESSAGE') return { ...base, type: { message: short } };
  return { ...base, type: SCALARS[f.type] ?? f.type };
}

/** The schema's field in the same terms. */
function schemaField(f: FieldDef): unknown {
  if (f.type === 'map') return { no: f.no, name: f.name, type: 'map', key: ['key:TYPE_STRING', 'value:TYPE_STRING'] };
  const base = { no: f.no, name: f.name, ...(f.repeated ? { repeated: true } : {}) };
  if (typeof f.type === 'string') return { ...base, type: f.type };
  if ('enum' in f.type) return { ...base, type: { enum: f.type.enum.name, values: [...f.type.enum.values] } };
  return { ...base, type: { message: f.type.message.name } };
}

const rpcMessages = Object.values(CRI_RPCS).flatMap((r) => [r.request, r.response]);

describe('schema tables against protos/cri.proto', () => {
  it.each(reachable(rpcMessages).map((d) => [d.name, d] as const))('%s: same fields, numbers, types', (_name, def) => {
    const msg = descriptor(def.name);
    const byNo = (a: { no: number }, b: { no: number }): number => a.no - b.no;
    expect((def.fields.map(schemaField) as { no: number }[]).sort(byNo)).toEqual((msg.field.map((f) => protoField(msg, f)) as { no: number }[]).sort(byNo));
  });

  it('the six RPCs are the .proto service methods of the same names, with the same request and response types', () => {
    for (const [method, rpc] of Object.entries(CRI_RPCS)) {
      const m = service[method];
      expect(m, method).toBeDefined();
      expect(m!.path).toBe(`/runtime.v1.RuntimeService/${method}`);
      expect(rpc.request.name).toBe(`${method}Request`);
      expect(rpc.response.name).toBe(`${method}Response`);
    }
  });
});

describe('codec against protobufjs (proto-loader options)', () => {
  for (const [method, rpc] of Object.entries(CRI_RPCS)) {
    const m = service[method]!;
    it(`${method} response: protobufjs bytes decode to proto-loader's object`, () => {
      fc.assert(fc.property(messageArbitrary(rpc.response), (obj) => {
        const bytes = m.responseSerialize(obj);
        expect(decodeMessage(rpc.response, bytes)).toEqual(m.responseDeserialize(bytes));
      }), { numRuns: RUNS });
    });
    it(`${method} request and response: codec bytes decode in protobufjs to the same object`, () => {
      fc.assert(fc.property(messageArbitrary(rpc.request), messageArbitrary(rpc.response), (req, res) => {
        expect(m.requestDeserialize(encodeMessage(rpc.request, req))).toEqual(req);
        expect(m.responseDeserialize(encodeMessage(rpc.response, res))).toEqual(res);
      }), { numRuns: RUNS });
    });
  }

  it('proto3 defaults are left out on the wire and filled in on decode', () => {
    expect(encodeMessage(CRI_RPCS.PodSandboxStatus.request, { pod_sandbox_id: '', verbose: false }).length).toBe(0);
    expect(decodeMessage(PodSandboxDef, Buffer.alloc(0))).toEqual({
      id: '', metadata: null, state: 'SANDBOX_READY', created_at: '0', labels: {}, annotations: {}, runtime_handler: '',
    });
  });
});

/** Unknown fields of each wire type, written with field numbers the schema does not declare. */
function unknownFields(w: ProtoWriter): void {
  w.tag(900, WIRE_VARINT);
  w.varintBig(-5n);
  w.tag(901, WIRE_I64);
  for (let i = 0; i < 8; i++) w.varint(0x7f); // 8 bytes of payload
  w.tag(902, WIRE_I32);
  for (let i = 0; i < 4; i++) w.varint(1);
  w.bytes(903, Buffer.from('ignored'));
  w.tag(904, WIRE_SGROUP);
  w.tag(1, WIRE_VARINT);
  w.varint(3);
  w.tag(2, WIRE_SGROUP);
  w.tag(2, WIRE_EGROUP);
  w.tag(904, WIRE_EGROUP);
}

describe('decoding edge cases', () => {
  it('skips unknown fields of every wire type, nested groups included', () => {
    const known = encodeMessage(PodSandboxDef, { id: 'abc', state: 'SANDBOX_NOTREADY', created_at: '-1' });
    const w = new ProtoWriter();
    unknownFields(w);
    const withUnknown = Buffer.concat([w.finish(), known]);
    expect(decodeMessage(PodSandboxDef, withUnknown)).toEqual(decodeMessage(PodSandboxDef, known));
    expect(decodeMessage(PodSandboxDef, known)).toMatchObject({ id: 'abc', state: 'SANDBOX_NOTREADY', created_at: '-1' });
  });

  it('an enum number the .proto does not name decodes to the enum\'s fallback; a map key __proto__ stays a key', () => {
    const w = new ProtoWriter();
    w.tag(3, WIRE_VARINT);
    w.varint(7);
    w.bytes(5, encodeMessage({ name: 'E', fields: [{ no: 1, name: 'key', type: 'string' }, { no: 2, name: 'value', type: 'string' }] }, { key: '__proto__', value: 'x' }));
    const d = decodeMessage(PodSandboxDef, w.finish());
    // PodSandboxState's fallback is no CRI name: cri-runtime.ts lists such a sandbox NOTREADY, marked stateUnknown.
    expect(d.state).toBe('SANDBOX_STATE_UNKNOWN');
    expect(Object.getPrototypeOf(d.labels)).toBe(Object.prototype);
    expect(Object.keys(d.labels as object)).toEqual(['__proto__']);
    expect(Object.getOwnPropertyDescriptor(d.labels, '__proto__')?.value).toBe('x');
  });

  it('map keys named like Object.prototype\'s properties become own, writable, enumerable keys in wire order', () => {
    const keys = ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf', 'app', 'toString'];
    const w = new ProtoWriter();
    keys.forEach((key, i) => w.bytes(5, encodeMessage({ name: 'E', fields: [{ no: 1, name: 'key', type: 'string' }, { no: 2, name: 'value', type: 'string' }] }, { key, value: `v${i}` })));
    const labels = decodeMessage(PodSandboxDef, w.finish()).labels as Record<string, string>;
    expect(Object.getPrototypeOf(labels)).toBe(Object.prototype);
    expect(Object.keys(labels)).toEqual(['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf', 'app']);
    for (const [i, key] of keys.entries()) {
      if (i === 0) continue; // a key seen twice keeps its last value, in its first place
      expect(Object.getOwnPropertyDescriptor(labels, key)).toEqual({ value: `v${i}`, writable: true, enumerable: true, configurable: true });
    }
  });

  it('a known field with the wrong wire type, a truncated length, a bad tag: DecodeError with where', () => {
    const cases: [Buffer, RegExp][] = [
      [Buffer.from([0x08, 0x01]), /field id \(1\) has wire type 0, expected 2/],
      [Buffer.from([0x0a, 0x05, 0x61]), /length 5 exceeds the 1 bytes left/],
      [Buffer.from([0x00]), /invalid field number 0/],
      [Buffer.from([0x0f]), /invalid wire type 7/],
      [Buffer.from([0x18, 0x80]), /truncated varint/],
      [Buffer.from([0xa3, 0x38, 0x08, 0x01]), /group 900 not closed/],
    ];
    for (const [bytes, why] of cases) {
      let err: unknown;
      try {
        decodeMessage(PodSandboxDef, bytes);
      } catch (e) {
        err = e;
      }
      expect(err, bytes.toString('hex')).toBeInstanceOf(DecodeError);
      expect((err as DecodeError).message).toMatch(why);
      expect((err as DecodeError).what).toBe('PodSandbox');
    }
  });

  it('arbitrary bytes: an object or a DecodeError, never anything else', () => {
    const defs: MessageDef[] = reachable(rpcMessages.filter((d) => d.name.endsWith('Response')));
    fc.assert(fc.property(fc.constantFrom(...defs), fc.uint8Array({ maxLength: 200 }), (def, bytes) => {
      try {
        const out: Decoded = decodeMessage(def, Buffer.from(bytes));
        expect(typeof out).toBe('object');
      } catch (err) {
        expect(err).toBeInstanceOf(DecodeError);
      }
    }), { numRuns: 3000 });
  });

  it('mutated real messages (bytes flipped, cut, spliced): an object or a DecodeError', () => {
    const sample = m(ListPodSandboxResponseDef);
    fc.assert(fc.property(sample, fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 255 }), fc.nat(), (bytes, at, value, cut) => {
      const b = Buffer.from(bytes);
      if (b.length > 0) b[at % b.length] = value;
      const cutAt = b.length === 0 ? 0 : cut % (b.length + 1);
      for (const variant of [b, b.subarray(0, cutAt), Buffer.concat([b.subarray(cutAt), b.subarray(0, cutAt)])]) {
        try {
          decodeMessage(ListPodSandboxResponseDef, variant);
        } catch (err) {
          expect(err).toBeInstanceOf(DecodeError);
        }
      }
    }), { numRuns: 1500 });
  });
});

/** Encoded messages of `def` (generated). */
function m(def: MessageDef): fc.Arbitrary<Buffer> {
  return messageArbitrary(def).map((o) => encodeMessage(def, o));
}
