/**
 * README.md is the contract for metric names: every family the registry can emit is in its Metrics tables, and every
 * name those tables list is one the registry emits. "Can emit": the families registered for a collection in which
 * every optional part is present (the Kubernetes API source, the root reader following mount events, a /proc scan,
 * the netlink reader, chaos-daemon's processes, a stale sandbox, a cut source), plus the long-lived registry; and
 * that collection must register every family name written in agent/metrics/, however quoted (a family added behind a
 * new condition fails here until this collection covers it).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildCollectionFamilies, PersistentMetrics } from '../../agent/metrics/registry.js';
import type { BpmReport } from '../../agent/proc/bpm.js';
import type { Snapshot } from '../../agent/snapshot.js';
import { chaosPod, cleanPod, snapshot } from './fixtures.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** `a_{b,c}_d` -> a_b_d, a_c_d (one level, as the tables write them). */
function expandBraces(name: string): string[] {
  const m = /^(.*?)\{([^{}]*)\}(.*)$/.exec(name);
  if (m === null) return [name];
  return m[2]!.split(',').flatMap((alt) => expandBraces(`${m[1]!}${alt}${m[3]!}`));
}

/**
 * The metric names in the first column of the tables of README's "### Metrics" section (up to the next `## `
 * heading), braces expanded; `prefix_*` entries as prefixes.
 */
function readmeMetricNames(readme: string): { names: Set<string>; prefixes: string[] } {
  const start = readme.indexOf('\n### Metrics\n');
  if (start < 0) throw new Error('README.md has no "### Metrics" section');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const names = new Set<string>();
  const prefixes: string[] = [];
  for (const line of section.split('\n')) {
    if (!line.startsWith('| `')) continue;
    const first = line.split(' | ')[0]!;
    for (const [, token] of first.matchAll(/`([^`]+)`/g)) {
      if (token!.endsWith('_*')) prefixes.push(token!.slice(0, -1));
      else for (const n of expandBraces(token!)) names.add(n);
    }
  }
  return { names, prefixes };
}

/**
 * The metric names written as whole string literals in `source`: single- or double-quoted, or a template literal
 * without substitutions (one built with `${...}` cannot be read from the text and is not found).
 */
function metricNameLiterals(source: string): Set<string> {
  return new Set([...source.matchAll(/(['"`])(chaos_daemon_[a-z0-9_]+)\1/g)].map((m) => m[2]!));
}

/** A collection with every optional part present. */
function fullSnapshot(): Snapshot {
  const web = chaosPod();
  web.sources = web.sources.map((s) => (s.source === 'iptables-nft-ipv4' ? { ...s, status: 'truncated' as const } : s));
  const bpm: BpmReport = {
    daemons: [{ pid: 1, sandboxId: 'sb', pod: 'chaos-mesh/chaos-daemon-x' }],
    background: [{ pid: 7, startTicks: 7, command: 'toda', identified: true, root: 1 }],
    controlled: 1, byCommand: new Map([['toda', 1]]), impostors: [], unknown: [],
  };
  return snapshot([web, cleanPod()], {
    reads: 2, incompleteNamespaces: 1, netlinkSpareThreads: 0,
    stale: [{ namespace: 'default', name: 'web-1', uid: 'uid-web-1', runtime: 'containerd', sandboxId: 'sb-old', state: 'SANDBOX_NOTREADY', replacedBy: 'sb-web-1' }],
    rootReader: { abandonedThreads: 0, blockedThreads: 0, skippedMountTables: 3 },
    procCmdlines: { unread: 0, blockedReads: 0 },
    bpm,
    kube: {
      up: true, syncAgeSeconds: 0, from: 'test', server: 'https://k8s:6443',
      resources: [{ resource: 'podnetworkchaos', synced: true, connected: true, lastSyncAt: 1, objects: 1, truncated: false, skipped: 0, lastError: null, lists: 1, watches: 1, failures: 0 }],
    },
  });
}

async function emittedNames(): Promise<string[]> {
  const snap = fullSnapshot();
  const collection = await buildCollectionFamilies({ snapshot: snap, bpm: snap.bpm ?? null, extraCollectors: [], compatMetrics: true, firstSeen: () => 1_700_000_000 });
  const persistent = new PersistentMetrics();
  const longLived = (await persistent.registry.getMetricsAsJSON()).map((m) => m.name);
  return [...collection.families.map((f) => f.name), ...longLived];
}

describe('README Metrics tables', () => {
  it('expands the tables\' brace and wildcard names', () => {
    expect(expandBraces('chaos_daemon_tbf_{rate,peakrate}_bytes_per_second')).toEqual(['chaos_daemon_tbf_rate_bytes_per_second', 'chaos_daemon_tbf_peakrate_bytes_per_second']);
    const doc = '\n### Metrics\n\n| metric | type |\n| --- | --- |\n| `a_{x,y}_total`, `b` | counter |\n| `process_*`, `nodejs_*` | |\n\n## Deploy\n| `c` | gauge |\n';
    expect(readmeMetricNames(doc)).toEqual({ names: new Set(['a_x_total', 'a_y_total', 'b']), prefixes: ['process_', 'nodejs_'] });
  });

  it('finds the metric names of agent source however they are quoted, and only whole literals', () => {
    const source = [
      "new Gauge({ name: 'chaos_daemon_single', help: 'h' });",
      'new Gauge({ name: "chaos_daemon_double", help: "h" });',
      'new Counter({ name: `chaos_daemon_template_total`, help: `h` });',
      'const built = `chaos_daemon_${kind}_total`;',
      "log.warn('see chaos_daemon_in_prose for details');",
      'const odd = \'chaos_daemon_mismatched" + "x\';',
    ].join('\n');
    expect([...metricNameLiterals(source)].sort()).toEqual(['chaos_daemon_double', 'chaos_daemon_single', 'chaos_daemon_template_total']);
  });

  it('list every family the registry can emit, and only those', async () => {
    const { names, prefixes } = readmeMetricNames(readFileSync(join(ROOT, 'README.md'), 'utf8'));
    const emitted = await emittedNames();
    const documented = (n: string): boolean => names.has(n) || prefixes.some((p) => n.startsWith(p));
    expect(emitted.filter((n) => !documented(n))).toEqual([]);
    expect([...names].filter((n) => !emitted.includes(n))).toEqual([]);
  });

  it('are checked against every family name agent/metrics/ registers (the collection above covers each)', async () => {
    const dir = join(ROOT, 'agent', 'metrics');
    const literal = new Set<string>();
    for (const f of readdirSync(dir)) {
      if (!f.endsWith('.ts')) continue;
      for (const n of metricNameLiterals(readFileSync(join(dir, f), 'utf8'))) literal.add(n);
    }
    expect(literal.size).toBeGreaterThan(60);
    const emitted = new Set(await emittedNames());
    expect([...literal].filter((n) => !emitted.has(n))).toEqual([]);
  });
});
