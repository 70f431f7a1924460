/** The Prometheus text of collection families alone (render-families.ts), for tests that register into a CollectionFamilies. */
import type { CollectionFamilies } from '../../agent/metrics/families.js';
import { renderFamilies } from '../../agent/metrics/render-families.js';
import { joinParts } from '../../agent/metrics/render-text.js';
import { Slicer } from '../../agent/metrics/slicer.js';

export async function familiesText(set: CollectionFamilies, openMetrics = false): Promise<string> {
  if (set.families.length === 0) return '';
  return joinParts(await renderFamilies(set.families, openMetrics, new Slicer()), openMetrics);
}
