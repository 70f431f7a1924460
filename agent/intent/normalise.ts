/**
 * Untrusted API JSON -> the intent model (model.ts). Pure and total: any input gives a value or null (an object
 * without a name/namespace), never a throw; an entry with a bad value is left out and named in `problems`.
 * Shapes: crd.ts (chaos-mesh api/v1alpha1). Values are converted as chaos-daemon converts them (units.ts,
 * pkg/netem/convert.go, pkg/chaosdaemon/tc_server.go convertNetemToArgs / convertTbfToArgs).
 */
import type {
  ApplyState,
  ExperimentIntent,
  ExperimentRecord,
  IpsetIntent,
  ChainIntent,
  NetemIntent,
  PodHttpIntent,
  PodIoIntent,
  PodNetworkIntent,
  StressInstance,
  TbfIntent,
  TcIntent,
} from './model.js';
import { parseGoDuration, parsePercent, parseTcRate, passesChaosDaemonTimeCheck, tcNetemTimeError } from './units.js';

/** Per-object caps: an object beyond them is kept truncated (a misbehaving controller cannot grow the cache). */
export const MAX_ENTRIES_PER_OBJECT = 1000;
export const MAX_RECORDS_PER_EXPERIMENT = 5000;
const MAX_STRING = 512;

type Obj = Record<string, unknown>;

function obj(x: unknown): Obj | null {
  return x !== null && typeof x === 'object' && !Array.isArray(x) ? (x as Obj) : null;
}
function str(x: unknown): string | null {
  return typeof x === 'string' && x.length <= MAX_STRING ? x : null;
}
function int(x: unknown): number | null {
  return typeof x === 'number' && Number.isSafeInteger(x) ? x : null;
}
function arr(x: unknown, cap = MAX_ENTRIES_PER_OBJECT): unknown[] {
  return Array.isArray(x) ? x.slice(0, cap) : [];
}
function strings(x: unknown): string[] {
  return arr(x).map(str).filter((s): s is string => s !== null && s !== '');
}

/** metadata.namespace / name, both non-empty; generation when present. */
function meta(raw: unknown): { namespace: string; name: string; generation: number | null; deleting: boolean } | null {
  const m = obj(obj(raw)?.metadata);
  const namespace = str(m?.namespace);
  const name = str(m?.name);
  if (!namespace || !name) return null;
  return { namespace, name, generation: int(m?.generation), deleting: typeof m?.deletionTimestamp === 'string' };
}

/** metadata.generation, status.observedGeneration and status.failedMessage (an empty message is none). */
function applyState(m: { generation: number | null }, status: Obj | null): ApplyState {
  const f = str(status?.failedMessage);
  return { generation: m.generation, observedGeneration: int(status?.observedGeneration), failedMessage: f ? f : null };
}

// ---------------------------------------------------------------------------------------------------------------
// ipset members as `ipset save` prints them

function ipv4Network(addr: string, prefix: number): string | null {
  const parts = addr.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return null;
  const n = ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const net = (n & mask) >>> 0;
  return [net >>> 24, (net >>> 16) & 255, (net >>> 8) & 255, net & 255].join('.');
}

/** `10.0.0.7/32` -> `10.0.0.7`, `10.0.0.5/24` -> `10.0.0.0/24` (hash:net stores networks); IPv6 lower-cased, /128 dropped. */
export function ipsetCidr(cidr: string): string {
  const [addr = '', len] = cidr.trim().split('/');
  if (addr.includes(':')) {
    const a = addr.toLowerCase();
    return len === undefined || len === '128' ? a : `${a}/${len}`;
  }
  const prefix = len === undefined ? 32 : Number(len);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) return cidr.trim();
  const net = ipv4Network(addr, prefix);
  if (net === null) return cidr.trim();
  return prefix === 32 ? net : `${net}/${prefix}`;
}

function ipsetEntry(raw: unknown, problems: string[]): IpsetIntent | null {
  const o = obj(raw);
  const name = str(o?.name);
  const type = str(o?.ipsetType);
  const source = str(o?.source) ?? '';
  if (!name || (type !== 'list:set' && type !== 'hash:net,port' && type !== 'hash:net')) {
    problems.push(`spec.ipsets: entry ${name ?? '(no name)'} has no valid name or ipsetType`);
    return null;
  }
  let members: string[];
  if (type === 'hash:net') members = strings(o?.cidrs).map(ipsetCidr);
  else if (type === 'list:set') members = strings(o?.setNames);
  else {
    members = [];
    for (const cp of arr(o?.cidrAndPorts)) {
      const c = obj(cp);
      const cidr = str(c?.cidr);
      const port = int(c?.port);
      if (!cidr || port === null || port < 1 || port > 65535) {
        problems.push(`spec.ipsets ${name}: bad cidrAndPorts entry`);
        continue;
      }
      // ipset's default protocol for hash:net,port members is tcp.
      members.push(`${ipsetCidr(cidr)},tcp:${port}`);
    }
  }
  return { name, type, members, source };
}

function chainEntry(raw: unknown, problems: string[]): ChainIntent | null {
  const o = obj(raw);
  const name = str(o?.name);
  const direction = str(o?.direction);
  if (!name || (direction !== 'input' && direction !== 'output')) {
    problems.push(`spec.iptables: entry ${name ?? '(no name)'} has no valid name or direction`);
    return null;
  }
  const device = str(o?.device);
  return { name, direction, ipsets: strings(o?.ipsets), device: device ? device : null, source: str(o?.source) ?? '' };
}

// ---------------------------------------------------------------------------------------------------------------
// traffic control

function netemOf(o: Obj, problems: string[], label: string): NetemIntent | null {
  const n: NetemIntent = {
    delaySeconds: 0, jitterSeconds: 0, delayCorrelation: 0, loss: 0, lossCorrelation: 0, duplicate: 0,
    duplicateCorrelation: 0, corrupt: 0, corruptCorrelation: 0, reorder: 0, reorderCorrelation: 0, gap: 0, rateBytesPerSecond: 0,
  };
  const bad = (what: string): null => {
    problems.push(`${label}: invalid ${what}`);
    return null;
  };
  const delay = obj(o.delay);
  if (delay) {
    const latency = parseGoDuration(str(delay.latency) ?? '');
    const jitter = parseGoDuration(str(delay.jitter) ?? '0');
    const corr = parsePercent(str(delay.correlation));
    if (latency === null || jitter === null || corr === null) return bad('delay');
    n.delaySeconds = latency;
    n.jitterSeconds = jitter;
    // tc's syntax: `delay TIME [JITTER [CORRELATION]]`; netem reorders only delayed packets.
    n.delayCorrelation = jitter > 0 ? corr : 0;
    const reorder = obj(delay.reorder);
    if (reorder) {
      const r = parsePercent(str(reorder.reorder));
      const rc = parsePercent(str(reorder.correlation));
      const gap = reorder.gap === undefined ? 0 : int(reorder.gap);
      if (r === null || rc === null || gap === null || gap < 0) return bad('delay.reorder');
      if (latency > 0) {
        n.reorder = r;
        n.reorderCorrelation = r > 0 ? rc : 0;
        n.gap = r > 0 ? gap : 0;
      }
    }
  }
  const pairs: [string, keyof NetemIntent, keyof NetemIntent][] = [
    ['loss', 'loss', 'lossCorrelation'],
    ['duplicate', 'duplicate', 'duplicateCorrelation'],
    ['corrupt', 'corrupt', 'corruptCorrelation'],
  ];
  for (const [key, field, corrField] of pairs) {
    const spec = obj(o[key]);
    if (!spec) continue;
    const v = parsePercent(str(spec[key]) ?? '');
    const c = parsePercent(str(spec.correlation));
    if (v === null || c === null || str(spec[key]) === null) return bad(key);
    n[field] = v;
    n[corrField] = v > 0 ? c : 0;
  }
  const rate = obj(o.rate);
  if (rate) {
    const r = parseTcRate(str(rate.rate) ?? '');
    if (r === null) return bad('rate');
    n.rateBytesPerSecond = r;
  }
  return n;
}

/**
 * What becomes of a valid netem entry's delay texts on their way to tc (convertNetemToArgs): the latency, then the
 * jitter, is left out when its text fails chaos-daemon's comparison with "0ms" (units.ts passesChaosDaemonTimeCheck:
 * a non-zero one is `dropped`), and a text that passes goes to tc, which may refuse it (tcNetemTimeError: `rejected`,
 * and the whole qdisc add fails).
 */
function delayFate(o: Obj, n: NetemIntent): Pick<TcIntent, 'delayDroppedByChaosDaemon' | 'delayRejectedByTc'> {
  const delay = obj(o.delay);
  if (!delay) return {};
  const texts = { latency: str(delay.latency) ?? '', jitter: str(delay.jitter) ?? '0' };
  for (const param of ['latency', 'jitter'] as const) {
    const text = texts[param];
    if (!passesChaosDaemonTimeCheck(text)) {
      const seconds = param === 'latency' ? n.delaySeconds : n.jitterSeconds;
      return seconds > 0 ? { delayDroppedByChaosDaemon: { param, text } } : {};
    }
    const error = tcNetemTimeError(text);
    if (error !== null) return { delayRejectedByTc: { param, text, error } };
  }
  return {};
}

function tbfOf(o: Obj, problems: string[], label: string): TbfIntent | null {
  const b = obj(o.bandwidth);
  const rate = parseTcRate(str(b?.rate) ?? '');
  const limit = int(b?.limit);
  const buffer = int(b?.buffer);
  if (!b || rate === null || limit === null || buffer === null || limit < 1 || buffer < 1) {
    problems.push(`${label}: invalid bandwidth (rate, limit and buffer are required)`);
    return null;
  }
  const peak = int(b.peakrate);
  const minburst = int(b.minburst);
  // convertTbfToArgs: `peakrate %d mtu %d` only when both are set; a bare number is bits per second to tc.
  const both = peak !== null && minburst !== null && peak > 0;
  return {
    rateBytesPerSecond: rate,
    burstBytes: buffer,
    limitBytes: limit,
    peakrateBytesPerSecond: both ? Math.trunc(peak / 8) : null,
    mtuBytes: both ? minburst : null,
  };
}

function tcText(o: Obj): string {
  const parts: string[] = [];
  const d = obj(o.delay);
  if (d) {
    parts.push(`delay ${str(d.latency) ?? '?'}`);
    if (str(d.jitter)) parts.push(`jitter ${str(d.jitter)}`);
    if (str(d.correlation) && str(d.correlation) !== '0') parts.push(`correlation ${str(d.correlation)}%`);
    const r = obj(d.reorder);
    if (r) parts.push(`reorder ${str(r.reorder) ?? '?'}%${int(r.gap) ? ` gap ${int(r.gap)}` : ''}`);
  }
  for (const k of ['loss', 'duplicate', 'corrupt']) {
    const s = obj(o[k]);
    if (s) parts.push(`${k} ${str(s[k]) ?? '?'}%${str(s.correlation) && str(s.correlation) !== '0' ? ` (correlation ${str(s.correlation)}%)` : ''}`);
  }
  const r = obj(o.rate);
  if (r) parts.push(`rate ${str(r.rate) ?? '?'}`);
  const b = obj(o.bandwidth);
  if (b) {
    parts.push(`rate ${str(b.rate) ?? '?'} limit ${int(b.limit) ?? '?'} buffer ${int(b.buffer) ?? '?'}`);
    if (int(b.peakrate) !== null) parts.push(`peakrate ${int(b.peakrate)} minburst ${int(b.minburst) ?? '?'}`);
  }
  return parts.join(' ');
}

function tcEntry(raw: unknown, index: number, problems: string[]): TcIntent | null {
  const o = obj(raw);
  const type = str(o?.type);
  const label = `spec.tcs[${index}]`;
  if (!o || (type !== 'netem' && type !== 'bandwidth')) {
    problems.push(`${label}: unknown type ${type ?? '(none)'}`);
    return null;
  }
  const device = str(o.device);
  const ipset = str(o.ipset);
  const base = { type: type as TcIntent['type'], device: device ? device : 'eth0', ipset: ipset ? ipset : null, source: str(o.source) ?? '', text: tcText(o) };
  if (type === 'netem') {
    const netem = netemOf(o, problems, label);
    if (!netem) return null;
    return { ...base, netem, ...delayFate(o, netem) };
  }
  const tbf = tbfOf(o, problems, label);
  return tbf ? { ...base, tbf } : null;
}

// ---------------------------------------------------------------------------------------------------------------
// Objects

export function normalisePodNetworkChaos(raw: unknown): PodNetworkIntent | null {
  const m = meta(raw);
  if (!m) return null;
  const spec = obj(obj(raw)!.spec);
  const status = obj(obj(raw)!.status);
  const problems: string[] = [];
  const ipsets = arr(spec?.ipsets).map((x) => ipsetEntry(x, problems)).filter((x): x is IpsetIntent => x !== null);
  const chains = arr(spec?.iptables).map((x) => chainEntry(x, problems)).filter((x): x is ChainIntent => x !== null);
  const tcs = arr(spec?.tcs).map((x, i) => tcEntry(x, i, problems)).filter((x): x is TcIntent => x !== null);
  return {
    namespace: m.namespace,
    name: m.name,
    ...applyState(m, status),
    ipsets,
    chains,
    tcs,
    problems,
  };
}

export function normalisePodHttpChaos(raw: unknown): PodHttpIntent | null {
  const m = meta(raw);
  if (!m) return null;
  const spec = obj(obj(raw)!.spec);
  const status = obj(obj(raw)!.status);
  const rules = arr(spec?.rules).flatMap((r) => {
    const o = obj(r);
    const port = int(o?.port);
    if (!o || port === null) return [];
    return [{ source: str(o.source) || null, port, target: str(o.target) ?? '' }];
  });
  return { namespace: m.namespace, name: m.name, rules, pid: int(status?.pid) || null, startTime: int(status?.startTime) || null, ...applyState(m, status) };
}

export function normalisePodIoChaos(raw: unknown): PodIoIntent | null {
  const m = meta(raw);
  if (!m) return null;
  const spec = obj(obj(raw)!.spec);
  const status = obj(obj(raw)!.status);
  const actions = arr(spec?.actions).flatMap((a) => {
    const o = obj(a);
    const type = str(o?.type);
    if (!o || !type) return [];
    return [{ type, path: str(o.path) || null, source: str(o.source) || null }];
  });
  return {
    namespace: m.namespace,
    name: m.name,
    volumeMountPath: str(spec?.volumeMountPath) ?? '',
    container: str(spec?.container) || null,
    actions,
    pid: int(status?.pid) || null,
    startTime: int(status?.startTime) || null,
    ...applyState(m, status),
  };
}

function record(raw: unknown): ExperimentRecord | null {
  const o = obj(raw);
  const id = str(o?.id);
  const phase = str(o?.phase);
  if (!id || (phase !== 'Injected' && phase !== 'Not Injected')) return null;
  return { id, selectorKey: str(o?.selectorKey) ?? '', phase, injectedCount: int(o?.injectedCount) ?? 0, recoveredCount: int(o?.recoveredCount) ?? 0 };
}

/** Any experiment kind: its records (status.experiment.containerRecords) and StressChaos' status.instances. */
export function normaliseExperiment(kind: string, raw: unknown): ExperimentIntent | null {
  const m = meta(raw);
  if (!m) return null;
  const spec = obj(obj(raw)!.spec);
  const status = obj(obj(raw)!.status);
  const exp = obj(status?.experiment);
  const rawRecords = Array.isArray(exp?.containerRecords) ? exp.containerRecords : [];
  const records = rawRecords.slice(0, MAX_RECORDS_PER_EXPERIMENT).map(record).filter((r): r is ExperimentRecord => r !== null);
  // Only StressChaos' instances are process records (NetworkChaos' hold PodNetworkChaos generations).
  const inst = kind === 'StressChaos' ? obj(status?.instances) : null;
  const keys = inst ? Object.keys(inst) : [];
  const instances: StressInstance[] = keys.slice(0, MAX_RECORDS_PER_EXPERIMENT).map((key) => {
    const i = obj(inst![key]);
    return {
      key,
      uid: str(i?.uid) || null,
      memoryUid: str(i?.memoryUid) || null,
      startTime: str(i?.startTime) || null,
      memoryStartTime: str(i?.memoryStartTime) || null,
    };
  });
  const phase = str(exp?.desiredPhase);
  return {
    kind,
    namespace: m.namespace,
    name: m.name,
    action: str(spec?.action) || null,
    desiredPhase: phase === 'Run' || phase === 'Stop' ? phase : null,
    deleting: m.deleting,
    records,
    instances,
    truncated: rawRecords.length > MAX_RECORDS_PER_EXPERIMENT || keys.length > MAX_RECORDS_PER_EXPERIMENT,
  };
}
