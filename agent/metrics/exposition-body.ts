/**
 * An exposition's body written straight from its pieces (families' texts, block families' blocks, separators)
 * into one Buffer, with its sample count known from the families: no joined string of the whole exposition
 * (~800 KB at 110 chaos pods, a large object that only a full GC reclaims, then copied again into the Buffer), and
 * no scan of it for `samples`.
 */
import type { RenderedBody } from './exposition.js';
import { BlockFamily, type AnyFamily } from './families.js';
import { familyHead, familyPieces } from './render-families.js';
import { countSamples, registryParts, type FamilyData } from './render-text.js';
import type { Slicer } from './slicer.js';
import { freshLease, type BodyLease } from './body-pool.js';

/**
 * The pieces written one after the other, UTF-8; a block family stands for its blocks (each one's lines preceded
 * by a newline), so that its ~110 blocks per family at 110 pods are not copied into the pieces one by one. Written
 * into the buffer `take` gives for the body's length (body-pool.ts: a reused backing; by default a fresh one).
 */
export function piecesToLease(pieces: readonly (string | BlockFamily)[], take: (size: number) => BodyLease = freshLease): BodyLease {
  let total = 0;
  for (const p of pieces) {
    if (typeof p === 'string') total += Buffer.byteLength(p, 'utf8');
    else for (const block of p.blocks) total += Buffer.byteLength(block, 'utf8');
  }
  const lease = take(total);
  const body = lease.body;
  let at = 0;
  for (const p of pieces) {
    if (typeof p === 'string') at += body.write(p, at, 'utf8');
    else for (const block of p.blocks) at += body.write(block, at, 'utf8');
  }
  return lease;
}

/**
 * The collection's families, then the registry's (`registry`: the collection's one reading of it, render-text.ts
 * readRegistry), in one format: byte for byte render-text.ts joinParts of every family's text (blank lines between
 * families in the text format, `# EOF` closing OpenMetrics).
 */
export async function renderBody(
  families: readonly AnyFamily[],
  registry: readonly FamilyData[],
  openMetrics: boolean,
  slicer: Slicer,
  take?: (size: number) => BodyLease,
): Promise<RenderedBody> {
  const separator = openMetrics ? '\n' : '\n\n';
  const pieces: (string | BlockFamily)[] = [];
  let samples = 0;
  for (const f of families) {
    if (slicer.due) await slicer.point();
    if (pieces.length > 0) pieces.push(separator);
    // A block family: its head, then the family for its blocks (piecesToLease); no await (and its promise) for it.
    if (f instanceof BlockFamily) pieces.push(familyHead(f, openMetrics), f);
    else await familyPieces(f, openMetrics, slicer, pieces);
    samples += f.size;
  }
  for (const part of await registryParts(registry, openMetrics, slicer)) {
    if (pieces.length > 0) pieces.push(separator);
    pieces.push(part);
    samples += countSamples(part);
  }
  pieces.push(openMetrics ? '\n# EOF\n' : '\n');
  const lease = piecesToLease(pieces, take);
  return { body: lease.body, samples, release: lease.release };
}
