/**
 * An exposition's body written straight from its pieces (families' texts, block families' blocks, separators)
 * into one Buffer, with its sample count known from the families: no joined string of the whole exposition
 * (~800 KB at 110 chaos pods, a large object that only a full GC reclaims, then copied again into the Buffer), and
 * no scan of it for `samples`.
 */
import type { RenderedBody } from './exposition.js';
import { BlockFamily, type AnyFamily } from './families.js';
import { blockPieces, familyPieces } from './render-families.js';
import { countSamples, registryParts, type FamilyData } from './render-text.js';
import type { Slicer } from './slicer.js';

/** The pieces written one after the other, UTF-8. */
export function piecesToBuffer(pieces: readonly string[]): Buffer {
  let total = 0;
  for (const p of pieces) total += Buffer.byteLength(p, 'utf8');
  const body = Buffer.allocUnsafe(total);
  let at = 0;
  for (const p of pieces) at += body.write(p, at, 'utf8');
  return body;
}

/**
 * The collection's families, then the registry's (`registry`: the collection's one reading of it, render-text.ts
 * readRegistry), in one format: byte for byte render-text.ts joinParts of every family's text (blank lines between
 * families in the text format, `# EOF` closing OpenMetrics).
 */
export async function renderBody(families: readonly AnyFamily[], registry: readonly FamilyData[], openMetrics: boolean, slicer: Slicer): Promise<RenderedBody> {
  const separator = openMetrics ? '\n' : '\n\n';
  const pieces: string[] = [];
  let samples = 0;
  for (const f of families) {
    if (slicer.due) await slicer.point();
    if (pieces.length > 0) pieces.push(separator);
    // A block family's pieces are only pushed: no await (and its microtask and promise) for them.
    if (f instanceof BlockFamily) blockPieces(f, openMetrics, pieces);
    else await familyPieces(f, openMetrics, slicer, pieces);
    samples += f.size;
  }
  for (const part of await registryParts(registry, openMetrics, slicer)) {
    if (pieces.length > 0) pieces.push(separator);
    pieces.push(part);
    samples += countSamples(part);
  }
  pieces.push(openMetrics ? '\n# EOF\n' : '\n');
  return { body: piecesToBuffer(pieces), samples };
}
