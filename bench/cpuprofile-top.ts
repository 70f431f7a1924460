/**
 * The hottest functions of V8 CPU profiles (`node --cpu-prof` output): `node dist/bench/cpuprofile-top.js FILE...
 * [--top 25] [--inclusive]`. Self time by function (name, file:line), summed over the given files, with the
 * share of the profile's sampled time; --inclusive adds the time of everything each function called (a function
 * counted once per stack, however deep it recurses). Paths are shown relative to the repository.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self and inclusive microseconds by function key over one profile. */
export function attribute(p: Profile): { self: Map<string, number>; inclusive: Map<string, number>; totalUs: number } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const key = (n: ProfileNode): string => {
    const url = n.callFrame.url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/');
    return `${n.callFrame.functionName || '(anonymous)'} ${url}:${n.callFrame.lineNumber + 1}`;
  };
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let totalUs = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    const node = byId.get(id);
    if (!node) return;
    totalUs += dt;
    self.set(key(node), (self.get(key(node)) ?? 0) + dt);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = key(byId.get(cur)!);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
    }
  });
  return { self, inclusive, totalUs };
}

function main(): void {
  const { values, positionals } = parseArgs({ options: { top: { type: 'string', default: '25' }, inclusive: { type: 'boolean', default: false } }, allowPositionals: true });
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  for (const f of positionals) {
    const a = attribute(JSON.parse(readFileSync(f, 'utf8')) as Profile);
    for (const [k, v] of a.self) self.set(k, (self.get(k) ?? 0) + v);
    for (const [k, v] of a.inclusive) inclusive.set(k, (inclusive.get(k) ?? 0) + v);
    total += a.totalUs;
  }
  const top = Number(values.top);
  const print = (title: string, m: Map<string, number>): void => {
    process.stdout.write(`${title} (of ${(total / 1000).toFixed(0)} ms sampled)\n`);
    for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      process.stdout.write(`${(v / 1000).toFixed(1).padStart(9)} ms ${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}\n`);
    }
  };
  print('self time', self);
  if (values.inclusive) print('inclusive time', inclusive);
}

main();
