/**
 * Renders the collection's families (families.ts) as render-text.ts renders a prom-client family, byte for byte:
 * `# HELP`, `# TYPE`, then one line per series, labels in declared order; in OpenMetrics a counter is declared
 * without `_total` and its samples carry it, and `"` is escaped in HELP. A series' label text was built once when
 * it was set (families.ts), so a line is the sample name, that text and the value; the lines of a family are
 * joined once. A block family (families.ts BlockFamily) is written as its head and its blocks, as pieces. Heads
 * are kept across collections (familyHead). Yields to the event loop between families and every SERIES_PER_SLICE
 * series (Slicer).
 */
import { BlockFamily, type AnyFamily, type Family } from './families.js';
import { escapeHelp, formatValue } from './render-text.js';
import type { Slicer } from './slicer.js';

/** Series formatted between two slicer points inside one family. */
const SERIES_PER_SLICE = 512;

/** One family's lines (HELP, TYPE, samples), joined by newlines, without a trailing newline. */
export async function renderFamily(family: AnyFamily, openMetrics: boolean, slicer: Slicer): Promise<string> {
  const pieces: string[] = [];
  await familyPieces(family, openMetrics, slicer, pieces);
  return pieces.join('');
}

/** The HELP and TYPE lines of a family, by name, per format: see familyHead. */
const heads = [new Map<string, { help: string; type: string; head: string }>(), new Map<string, { help: string; type: string; head: string }>()];
/** Family names whose head is kept, per format, at most (the agent has ~70; tests make more). */
const MAX_HEADS = 1024;

/**
 * A family's `# HELP` and `# TYPE` lines (without a trailing newline), kept by name and reused while the help and
 * type are equal (a head is a pure function of name, help, type and format): every collection makes fresh families
 * with the same texts, and escaping each help again (three regular expressions) was most of a family's cost.
 */
export function familyHead(family: AnyFamily, openMetrics: boolean): string {
  const kept = heads[openMetrics ? 1 : 0]!;
  const k = kept.get(family.name);
  if (k !== undefined && k.help === family.help && k.type === family.type) return k.head;
  const declared = openMetrics && family.type === 'counter' ? family.name.replace(/_total$/, '') : family.name;
  const head = `# HELP ${declared} ${escapeHelp(family.help, openMetrics)}\n# TYPE ${declared} ${family.type}`;
  if (kept.size >= MAX_HEADS) kept.clear();
  kept.set(family.name, { help: family.help, type: family.type, head });
  return head;
}

/** A block family's text as pieces appended to `out`: its head, then its blocks (each line preceded by a newline). */
export function blockPieces(family: BlockFamily, openMetrics: boolean, out: Pick<string[], 'push'>): void {
  out.push(familyHead(family, openMetrics));
  for (const block of family.blocks) out.push(block);
}

/**
 * renderFamily's text as pieces appended to `out`, to be written out without being joined into one string (a
 * block family's text is ~400 KB at 110 pods: joined, it would be a large object for the old generation).
 */
export async function familyPieces(family: AnyFamily, openMetrics: boolean, slicer: Slicer, out: Pick<string[], 'push'>): Promise<void> {
  if (family instanceof BlockFamily) {
    blockPieces(family, openMetrics, out);
    return;
  }
  // A counter's samples carry `_total` in both formats (OpenMetrics declares it without).
  const sampleName = openMetrics && family.type === 'counter' ? `${family.name.replace(/_total$/, '')}_total` : family.name;
  out.push(await familyLines(family, sampleName, familyHead(family, openMetrics), slicer));
}

async function familyLines(family: Family, sampleName: string, head: string, slicer: Slicer): Promise<string> {
  const { series, values } = family;
  const lines = new Array<string>(series.length + 1);
  lines[0] = head;
  for (let i = 0; i < series.length; i++) {
    if (i > 0 && i % SERIES_PER_SLICE === 0 && slicer.due) await slicer.point();
    lines[i + 1] = `${sampleName}${series[i]!} ${formatValue(values[i]!)}`;
  }
  return lines.join('\n');
}

/** Every family's text, in order (to be joined with other parts by render-text.ts joinParts). */
export async function renderFamilies(families: readonly AnyFamily[], openMetrics: boolean, slicer: Slicer): Promise<string[]> {
  const parts: string[] = [];
  for (const f of families) {
    if (slicer.due) await slicer.point();
    parts.push(await renderFamily(f, openMetrics, slicer));
  }
  return parts;
}
