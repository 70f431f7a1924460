/**
 * Renders the collection's families (families.ts) as render-text.ts renders a prom-client family, byte for byte:
 * `# HELP`, `# TYPE`, then one line per series, labels in declared order; in OpenMetrics a counter is declared
 * without `_total` and its samples carry it, and `"` is escaped in HELP. A series' label text was built once when
 * it was set (families.ts), so a line is the sample name, that text and the value; the lines of a family are
 * joined once. Yields to the event loop between families and every SERIES_PER_SLICE series (Slicer).
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

/**
 * renderFamily's text as pieces appended to `out`, to be written out without being joined into one string (a
 * block family's text is ~400 KB at 110 pods: joined, it would be a large object for the old generation).
 */
export async function familyPieces(family: AnyFamily, openMetrics: boolean, slicer: Slicer, out: string[]): Promise<void> {
  const counterOm = openMetrics && family.type === 'counter';
  const declared = counterOm ? family.name.replace(/_total$/, '') : family.name;
  const sampleName = counterOm ? `${declared}_total` : declared;
  const head = `# HELP ${declared} ${escapeHelp(family.help, openMetrics)}\n# TYPE ${declared} ${family.type}`;
  if (family instanceof BlockFamily) {
    out.push(head);
    for (const block of family.blocks) out.push('\n', block);
    return;
  }
  out.push(await familyLines(family, sampleName, head, slicer));
}

async function familyLines(family: Family, sampleName: string, head: string, slicer: Slicer): Promise<string> {
  const { series, values } = family;
  const lines = new Array<string>(series.length + 1);
  lines[0] = head;
  for (let i = 0; i < series.length; i++) {
    if (i > 0 && i % SERIES_PER_SLICE === 0) await slicer.point();
    lines[i + 1] = `${sampleName}${series[i]!} ${formatValue(values[i]!)}`;
  }
  return lines.join('\n');
}

/** Every family's text, in order (to be joined with other parts by render-text.ts joinParts). */
export async function renderFamilies(families: readonly AnyFamily[], openMetrics: boolean, slicer: Slicer): Promise<string[]> {
  const parts: string[] = [];
  for (const f of families) {
    await slicer.point();
    parts.push(await renderFamily(f, openMetrics, slicer));
  }
  return parts;
}
