/**
 * `chaos-node-agent runtimes [--json]`: every endpoint tried (explicit or discovered), the runtime, its version
 * and API version, up or the error. Exit 0 when at least one runtime answers, 1 when none does.
 */
import type { Config } from '../config.js';
import { Inventory, unreachableMessage } from '../runtime/inventory.js';
import type { RuntimeStatus } from '../runtime/types.js';
import type { CommandIo } from './io.js';

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function formatTable(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}

export function runtimesJson(statuses: RuntimeStatus[]): string {
  const runtimes = statuses.map((s) => ({
    endpoint: s.endpoint,
    protocol: s.protocol,
    runtime: s.runtime,
    version: s.version,
    apiVersion: s.apiVersion,
    up: s.up,
    error: s.error,
  }));
  return JSON.stringify({ runtimes }, null, 2) + '\n';
}

export function runtimesTable(statuses: RuntimeStatus[]): string {
  return formatTable([
    ['ENDPOINT', 'PROTOCOL', 'RUNTIME', 'VERSION', 'API', 'STATUS'],
    ...statuses.map((s) => [
      s.endpoint,
      s.protocol,
      s.runtime ?? '-',
      s.version ?? '-',
      s.apiVersion ?? '-',
      s.up ? 'up' : `down: ${s.error ?? 'unknown error'}`,
    ]),
  ]);
}

export async function run(cfg: Config, io: CommandIo): Promise<number> {
  const inventory = new Inventory(cfg, { log: io.log });
  try {
    const statuses = await inventory.runtimes();
    io.out(cfg.json ? runtimesJson(statuses) : runtimesTable(statuses));
    if (!statuses.some((s) => s.up)) {
      io.err(`chaos-node-agent runtimes: ${unreachableMessage(statuses)}`);
      return 1;
    }
    return 0;
  } finally {
    inventory.close();
  }
}
