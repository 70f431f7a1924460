/**
 * `tc -s -d -raw -j qdisc show` -> qdiscs with the model's typed fields, filled exactly as the netlink decoders fill
 * them (agent/netns/netlink/tc/*.ts), from what iproute2 prints:
 * - statistics are top-level keys (bytes, packets, drops, overlimits, requeues, backlog, qlen);
 * - netem (q_netem.c): times in seconds and probabilities as ratios, already at `%g` precision; loss models,
 *   slot, rate overheads; `ecn` always printed (boolean), `gap` always (kept only when non-zero);
 * - tbf (q_tbf.c): with -raw, `burst_raw` (the bucket in psched ticks, hex) gives the exact burst through the
 *   same tick conversion the netlink reader uses, and `limit` is printed; without -raw the burst comes from the
 *   -d text (`10Kb/1`, sprint_size rounding) and the limit is derived from `lat` when no peak rate is involved.
 *   tc never prints the peak rate in JSON (iproute2 6.1 to 7.x: PRINT_FP only), so this reader cannot report it;
 * - prio / pfifo_fast: bands, priomap; htb: default class (`0x10` under `1:` = `1:10`), r2q, direct_qlen;
 *   sfq: limit, quantum, depth, headdrop, flows (-d), divisor, perturb, red parameters; pfifo/bfifo: limit.
 * Never throws: an unreadable object becomes a ParseError at its position.
 */
import { ParseError } from '../../errors.js';
import { DEFAULT_PSCHED, xmitSize } from '../netlink/tc/psched.js';
import type { NetemOptions, NetemSlot, Qdisc, QdiscStats, SfqOptions, TbfOptions } from '../state.js';
import { MAX_ERROR_TEXT } from './lines.js';
import { byLine, first, isObject, num, plain, readArrayElements, setIf, str, type JsonObject } from './tc-json.js';
import { parseTcRate, parseTcSize, parseTcTime } from './tc-units.js';

const STAT_KEYS = ['bytes', 'packets', 'drops', 'overlimits', 'requeues', 'backlog', 'qlen'] as const;

export function readStats(o: JsonObject): QdiscStats | null {
  const src = isObject(o.stats) ? o.stats : o;
  let any = false;
  const st: QdiscStats = { bytes: 0, packets: 0, drops: 0, overlimits: 0, requeues: 0, backlog: 0, qlen: 0 };
  for (const k of STAT_KEYS) {
    const v = k === 'backlog' ? parseTcSize(src[k]) : num(src[k]);
    if (v !== undefined) {
      st[k] = v;
      any = true;
    }
  }
  return any ? st : null;
}

function ratioPair(o: unknown, key: string): [number | undefined, number | undefined] {
  const x = first(o);
  return isObject(x) ? [num(x[key]), num(x.correlation)] : [undefined, undefined];
}

function slotFrom(o: unknown): NetemSlot | undefined {
  const s = first(o);
  if (!isObject(s)) return undefined;
  const slot: NetemSlot = { packets: num(s.packets) ?? 0, bytes: num(s.bytes) ?? 0 };
  if (s.distribution !== undefined) {
    setIf(slot, 'distributionDelaySeconds', num(s.distribution));
    setIf(slot, 'distributionJitterSeconds', num(s.jitter));
  } else {
    setIf(slot, 'minDelaySeconds', num(s['min-delay']));
    setIf(slot, 'maxDelaySeconds', num(s['max-delay']));
  }
  return slot;
}

/** netem options object (q_netem.c netem_print_opt, JSON branch) -> base units. */
export function netemFromOptions(o: Record<string, unknown>): NetemOptions {
  const n: NetemOptions = {};
  setIf(n, 'limit', num(o.limit));
  const delay = first(o.delay);
  if (isObject(delay)) {
    // Seconds already; older iproute2 printed strings like "100.0ms".
    setIf(n, 'delaySeconds', parseTcTime(delay.delay, 1));
    setIf(n, 'jitterSeconds', parseTcTime(delay.jitter, 1));
    setIf(n, 'delayCorrelation', num(delay.correlation));
  }
  const [loss, lossCorr] = ratioPair(o['loss-random'], 'loss');
  if (loss !== undefined) {
    n.loss = loss;
    setIf(n, 'lossCorrelation', lossCorr);
  }
  const state = first(o['loss-state']);
  if (isObject(state)) {
    n.lossState = { p13: num(state.p13) ?? 0, p31: num(state.p31) ?? 0, p32: num(state.p32) ?? 0, p23: num(state.p23) ?? 0, p14: num(state.p14) ?? 0 };
  }
  const ge = first(o['loss-gemodel']);
  if (isObject(ge)) n.lossGemodel = { p: num(ge.p) ?? 0, r: num(ge.r) ?? 0, oneMinusH: num(ge['1-h']) ?? 0, oneMinusK: num(ge['1-k']) ?? 0 };
  for (const [key, field, corrField] of [
    ['duplicate', 'duplicate', 'duplicateCorrelation'],
    ['reorder', 'reorder', 'reorderCorrelation'],
    ['corrupt', 'corrupt', 'corruptCorrelation'],
  ] as const) {
    const [v, c] = ratioPair(o[key], key);
    if (v !== undefined) {
      n[field] = v;
      setIf(n, corrField, c);
    }
  }
  const rate = first(o.rate);
  if (isObject(rate)) {
    setIf(n, 'rateBytesPerSecond', parseTcRate(rate.rate));
    n.ratePacketOverhead = num(rate.packetoverhead) ?? 0;
    n.rateCellSize = num(rate.cellsize) ?? 0;
    n.rateCellOverhead = num(rate.celloverhead) ?? 0;
  }
  setIf(n, 'slot', slotFrom(o.slot));
  const ecn = first(o.ecn);
  if (typeof ecn === 'boolean') n.ecn = ecn;
  const gap = num(o.gap);
  if (gap !== undefined && gap > 0) n.gap = gap;
  return n;
}

/** A hex word as tc prints it with -raw (`print_hex`: `%x`, no 0x). */
function rawHex(v: unknown): number | undefined {
  const x = str(v);
  return x !== undefined && /^[0-9a-f]{1,8}$/i.test(x) ? parseInt(x, 16) : undefined;
}

/** tbf options object (q_tbf.c tbf_print_opt) -> base units. */
export function tbfFromOptions(o: Record<string, unknown>): TbfOptions {
  const t: TbfOptions = {};
  setIf(t, 'rateBytesPerSecond', parseTcRate(o.rate));
  const bufferTicks = rawHex(o.burst_raw);
  if (bufferTicks !== undefined && t.rateBytesPerSecond !== undefined) t.burstBytes = xmitSize(t.rateBytesPerSecond, bufferTicks, DEFAULT_PSCHED);
  else setIf(t, 'burstBytes', parseTcSize(o.burst));
  setIf(t, 'peakrateBytesPerSecond', parseTcRate(o.peakrate));
  // -d prints "mtu":"1600b/1", without -d "minburst":1600; both only when a peakrate is set.
  setIf(t, 'mtuBytes', parseTcSize(o.mtu ?? o.minburst));
  // lat: microseconds as a number (6.1), or a time string.
  setIf(t, 'latencySeconds', parseTcTime(o.lat ?? o.latency, 1e6));
  const limit = parseTcSize(o.limit);
  if (limit !== undefined) {
    t.limitBytes = limit;
  } else if (
    t.latencySeconds !== undefined &&
    t.rateBytesPerSecond !== undefined &&
    t.burstBytes !== undefined &&
    t.peakrateBytesPerSecond === undefined &&
    t.mtuBytes === undefined
  ) {
    // tbf_print_opt: lat = limit / rate - burst / rate  =>  limit = lat * rate + burst (exact to the byte).
    t.limitBytes = Math.round(t.latencySeconds * t.rateBytesPerSecond + t.burstBytes);
  }
  return t;
}

/** sfq options object (q_sfq.c sfq_print_opt) -> the model's fields. */
export function sfqFromOptions(o: Record<string, unknown>): SfqOptions {
  const s: SfqOptions = { limit: num(o.limit) ?? 0, quantumBytes: parseTcSize(o.quantum) ?? 0, headdrop: first(o.headdrop) === true, flows: num(o.flows) ?? 0, divisor: num(o.divisor) ?? 0 };
  setIf(s, 'depth', num(o.depth));
  setIf(s, 'perturbSeconds', num(o.perturb));
  const min = parseTcSize(o.min);
  if (min !== undefined) s.red = { ewmaLog: num(o.ewma) ?? 0, minBytes: min, maxBytes: parseTcSize(o.max) ?? 0, probability: num(o.probability) ?? 0 };
  return s;
}

function typedOptions(q: Qdisc, o: JsonObject): void {
  const kind = q.kind;
  if (kind === 'netem') q.netem = netemFromOptions(o);
  else if (kind === 'tbf') q.tbf = tbfFromOptions(o);
  else if (kind === 'sfq') q.sfq = sfqFromOptions(o);
  else if (kind === 'pfifo' || kind === 'bfifo' || kind === 'pfifo_head_drop') {
    const limit = parseTcSize(o.limit);
    if (limit !== undefined) q.fifo = { limit };
  } else if (kind === 'prio' || kind === 'pfifo_fast') {
    const bands = num(o.bands);
    const pm = o.priomap;
    const priomap = Array.isArray(pm) ? pm.map((x) => num(x)).filter((x): x is number => x !== undefined) : [];
    if (bands !== undefined) q.prio = { bands, priomap };
  } else if (kind === 'htb') {
    const htb: { defaultClass?: string; r2q?: number; directQlen?: number } = {};
    const def = str(o.default);
    if (def !== undefined) {
      // tc prints the default minor class id as hex ("0x10" = class 1:10 under handle 1:; "0" for none).
      const minor = def.replace(/^0x/i, '');
      const major = q.handle.endsWith(':') ? q.handle.slice(0, -1) : (q.handle.split(':')[0] ?? '');
      htb.defaultClass = `${major}:${minor}`;
    }
    setIf(htb, 'r2q', num(o.r2q));
    setIf(htb, 'directQlen', num(o.direct_qlen));
    q.htb = htb;
  }
}

function qdiscFromObject(o: JsonObject, dev: string): Qdisc | string {
  const kind = str(o.kind);
  if (kind === undefined) return 'object has no "kind"';
  const handle = str(o.handle) ?? '';
  const root = first(o.root) === true;
  const rawParent = str(o.parent);
  let parent: string;
  if (root) parent = 'root';
  else if (rawParent === 'ffff:fff1' || kind === 'ingress' || kind === 'clsact') parent = 'ingress';
  else parent = rawParent ?? '';
  const optionsJson = isObject(o.options) ? o.options : (Object.create(null) as JsonObject);
  const q: Qdisc = {
    interface: str(o.dev) ?? dev,
    kind,
    handle,
    parent,
    root,
    options: plain(optionsJson) as Record<string, unknown>,
    stats: readStats(o),
  };
  typedOptions(q, optionsJson);
  return q;
}

/**
 * `tc [-s] [-d] [-raw] -j qdisc show [dev X]` -> qdiscs. `dev` names the interface when tc left "dev" out (it does
 * when the command named one). Malformed JSON -> one ParseError (line 0) and no qdiscs; one bad object -> a
 * ParseError at its position and the others are kept.
 */
export function parseTcQdiscs(json: string, dev = ''): { qdiscs: Qdisc[]; errors: ParseError[] } {
  const what = 'tc qdisc show';
  const { items, errors } = readArrayElements(what, json);
  const qdiscs: Qdisc[] = [];
  for (const { value, position } of items) {
    if (!isObject(value)) {
      errors.push(new ParseError(what, position, JSON.stringify(value).slice(0, MAX_ERROR_TEXT), 'element is not an object'));
      continue;
    }
    const q = qdiscFromObject(value, dev);
    if (typeof q === 'string') errors.push(new ParseError(what, position, JSON.stringify(plain(value)).slice(0, MAX_ERROR_TEXT), q));
    else qdiscs.push(q);
  }
  return { qdiscs, errors: byLine(errors) };
}
