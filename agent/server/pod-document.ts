/**
 * The /debug/pods body: the `inspect --json` document {"pods":[...]}, each entry in collection.ts's
 * podReportJson shape (the same function `inspect --json` uses, so both stay identical).
 */
import { podReportJson } from '../collection.js';
import type { PodReport } from '../snapshot.js';

export function podsJson(reports: readonly PodReport[]): string {
  return `${JSON.stringify({ pods: reports.map(podReportJson) }, null, 2)}\n`;
}
