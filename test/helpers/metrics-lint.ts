/**
 * A lint of a whole Prometheus text exposition (format 0.0.4), usable by any test:
 * valid metric and label names, HELP and TYPE present (HELP non-empty) before the samples, every sample
 * belonging to a declared family, counters ending in `_total` (and nothing else ending in it), no duplicate
 * series, base units (no _milliseconds, _kilobytes, _percent ...), reserved prefixes unused, values parseable.
 * `parseExposition` is exported for exact-value assertions.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  help: string | null;
  type: string | null;
  samples: Sample[];
}

export interface LintOptions {
  /** Non-counter families allowed to end in _total (third-party names, e.g. prom-client's nodejs_active_handles_total). */
  allowNonCounterTotal?: string[];
}

/** prom-client's default metrics that are gauges but end in _total (not ours to rename). */
export const PROM_CLIENT_GAUGE_TOTALS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

const METRIC_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const NON_BASE_UNITS = ['milliseconds', 'microseconds', 'nanoseconds', 'minutes', 'hours', 'days', 'kilobytes', 'megabytes',
  'gigabytes', 'kibibytes', 'mebibytes', 'percent', 'percentage', 'ms', 'us', 'ns', 'kb', 'mb', 'gb', 'bits', 'millis'];
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(v: string): number {
  if (v === '+Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  if (/^nan$/i.test(v)) return NaN; // Prometheus parses floats case-insensitively; prom-client prints "Nan"
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(v)) throw new Error(`bad value "${v}"`);
  return Number(v);
}

/** Parse one sample line: name{a="x",b="y\"z"} value [timestamp]. Throws on malformed input. */
export function parseSampleLine(line: string): Sample & { timestamp: string | null } {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
  if (!m) throw new Error(`bad metric name in: ${line}`);
  const name = m[1]!;
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i += 1;
    while (line[i] !== '}') {
      const lm = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(line.slice(i));
      if (!lm) throw new Error(`bad label at ${i} in: ${line}`);
      const lname = lm[1]!;
      i += lm[0].length;
      let value = '';
      for (;;) {
        const c = line[i];
        if (c === undefined) throw new Error(`unterminated label value in: ${line}`);
        if (c === '\\') {
          const n = line[i + 1];
          if (n === 'n') value += '\n';
          else if (n === '\\' || n === '"') value += n;
          else throw new Error(`bad escape \\${n} in: ${line}`);
          i += 2;
          continue;
        }
        if (c === '"') {
          i += 1;
          break;
        }
        value += c;
        i += 1;
      }
      if (lname in labels) throw new Error(`label ${lname} repeated in: ${line}`);
      labels[lname] = value;
      if (line[i] === ',') i += 1;
      else if (line[i] !== '}') throw new Error(`expected , or } at ${i} in: ${line}`);
    }
    i += 1;
  }
  const rest = line.slice(i).trim().split(/\s+/);
  if (line[i] !== ' ' || rest.length < 1 || rest.length > 2) throw new Error(`bad value part in: ${line}`);
  return { name, labels, value: parseValue(rest[0]!), timestamp: rest[1] ?? null };
}

function familyOf(sampleName: string, families: Map<string, Family>): Family | undefined {
  const direct = families.get(sampleName);
  if (direct) return direct;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (sampleName.endsWith(suffix)) {
      const f = families.get(sampleName.slice(0, -suffix.length));
      if (f && (f.type === 'histogram' || f.type === 'summary')) return f;
    }
  }
  return undefined;
}

export function parseExposition(text: string): { families: Map<string, Family>; problems: string[] } {
  const families = new Map<string, Family>();
  const problems: string[] = [];
  const fam = (name: string): Family => {
    let f = families.get(name);
    if (!f) {
      f = { name, help: null, type: null, samples: [] };
      families.set(name, f);
    }
    return f;
  };
  text.split('\n').forEach((line, idx) => {
    const at = `line ${idx + 1}`;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (!m) return; // other comments are allowed by the format
      const [, kw, name, rest] = m as unknown as [string, string, string, string | undefined];
      const f = fam(name);
      if (kw === 'HELP') {
        if (f.help !== null) problems.push(`${at}: second HELP for ${name}`);
        f.help = rest ?? '';
      } else {
        if (f.type !== null) problems.push(`${at}: second TYPE for ${name}`);
        if (f.samples.length > 0) problems.push(`${at}: TYPE for ${name} after its samples`);
        f.type = rest ?? '';
        if (!TYPES.has(f.type)) problems.push(`${at}: unknown TYPE "${f.type}" for ${name}`);
      }
      return;
    }
    let s: Sample;
    try {
      const { timestamp, ...sample } = parseSampleLine(line);
      if (timestamp !== null) problems.push(`${at}: sample carries a timestamp (exporters set none)`);
      s = sample;
    } catch (err) {
      problems.push(`${at}: ${(err as Error).message}`);
      return;
    }
    const f = familyOf(s.name, families);
    if (!f) {
      problems.push(`${at}: sample ${s.name} has no HELP/TYPE before it`);
      fam(s.name).samples.push(s);
      return;
    }
    f.samples.push(s);
  });
  return { families, problems };
}

/** Every problem found; an empty list means the exposition passes. */
export function lintExposition(text: string, opts: LintOptions = {}): string[] {
  const { families, problems } = parseExposition(text);
  const allowTotal = new Set(opts.allowNonCounterTotal ?? []);
  const seriesSeen = new Set<string>();
  for (const f of families.values()) {
    if (!METRIC_RE.test(f.name)) problems.push(`${f.name}: invalid metric name`);
    if (f.help === null || f.help.trim() === '') problems.push(`${f.name}: missing HELP`);
    if (f.type === null) problems.push(`${f.name}: missing TYPE`);
    if (f.type === 'counter' && !f.name.endsWith('_total')) problems.push(`${f.name}: counter does not end in _total`);
    if (f.type !== 'counter' && f.name.endsWith('_total') && !allowTotal.has(f.name)) problems.push(`${f.name}: ${f.type} ends in _total (reserved for counters)`);
    if (/^(scrape_|process_scrape)/.test(f.name)) problems.push(`${f.name}: scrape_ prefix is reserved`);
    const parts = f.name.split('_');
    for (const unit of NON_BASE_UNITS) if (parts.includes(unit)) problems.push(`${f.name}: not a base unit (${unit})`);
    for (const s of f.samples) {
      for (const l of Object.keys(s.labels)) {
        if (!LABEL_RE.test(l) || l.startsWith('__')) problems.push(`${s.name}: invalid label name ${l}`);
      }
      const key = `${s.name}{${Object.keys(s.labels).sort().map((k) => `${k}=${JSON.stringify(s.labels[k])}`).join(',')}}`;
      if (seriesSeen.has(key)) problems.push(`duplicate series ${key}`);
      seriesSeen.add(key);
      if (f.type === 'counter' && !(s.value >= 0)) problems.push(`${key}: counter value ${s.value} is not >= 0`);
    }
  }
  return problems;
}

/** The samples named exactly `name` (a family name, or a histogram's name_bucket/_sum/_count). */
export function samplesOf(text: string, name: string): Sample[] {
  const { families } = parseExposition(text);
  return [...families.values()].flatMap((f) => f.samples.filter((s) => s.name === name));
}

/** Value of the single sample of `name` whose labels include `labels`; undefined when none, throws when several. */
export function valueOf(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const hits = samplesOf(text, name).filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (hits.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${hits.length} series`);
  return hits[0]?.value;
}
