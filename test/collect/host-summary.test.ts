/**
 * The node's namespace shared by host-network pods, summarised (hostSharing 'summarise'): read once, reported as the
 * draft's host entry, and each pod's entry marked `hostSummary` so that inspect shows its verdict and note, not
 * 'network namespace not read' nor empty tables. The marker is the entry's, not its note's text, and stays out of the
 * JSON document (README's ENTRY has no such field: the `host` entry and `"hostNetwork":true` say it).
 */
import { describe, expect, it } from 'vitest';
import { emptyDraft } from '../../agent/collect/draft.js';
import { netnsCollector } from '../../agent/collect/netns.js';
import { formatReport } from '../../agent/commands/inspect.js';
import { silentLogger } from '../../agent/log.js';
import type { NetnsReader } from '../../agent/netns/read.js';
import { emptyNetnsState, type NetnsState } from '../../agent/netns/state.js';
import type { PodInfo } from '../../agent/runtime/types.js';
import { podsJson } from '../../agent/server/pod-document.js';
import { HOST_SUMMARY_NOTE } from '../../agent/snapshot.js';

const hostPod = (name: string): PodInfo => ({
  namespace: 'kube-system', name, uid: `uid-${name}`, runtime: 'containerd', endpoint: 'unix:///fake.sock', sandboxId: `sb-${name}`,
  state: 'SANDBOX_READY', pid: 1, hostNetwork: true, netns: { inode: 4026531840, path: '/proc/1/ns/net' }, containers: [],
});

/** A reader that answers every read with the node's namespace read by netlink and found empty. */
const reader = (): NetnsReader => {
  const read = (): Promise<NetnsState> => Promise.resolve({ ...emptyNetnsState(), reader: 'netlink', sources: [{ source: 'links', status: 'complete' }] });
  return { read } as unknown as NetnsReader;
};

describe('host-network pods summarised', () => {
  it('each pod entry is marked and shown with its verdict and note; the JSON carries no marker', async () => {
    const draft = { ...emptyDraft(), pods: [hostPod('kube-proxy'), hostPod('node-exporter')] };
    const out = await netnsCollector({ reader: reader() }).collect(draft, { deadline: performance.now() + 60_000, log: silentLogger() });
    expect(out).toEqual({ success: true });
    expect(draft.host?.reader).toBe('netlink');
    const entries = draft.pods.map((p) => draft.reports.get(p)!);
    expect(entries.map((r) => r.hostSummary)).toEqual([true, true]);
    expect(formatReport(entries[0]!).split('\n')).toEqual([
      'pod kube-system/kube-proxy (containerd) host network  netns inode 4026531840 /proc/1/ns/net',
      '  verdict: clean',
      `  note: ${HOST_SUMMARY_NOTE}`,
      '',
    ]);
    const doc = JSON.parse(podsJson(entries, { host: draft.host })) as { pods: Record<string, unknown>[] };
    expect(doc.pods.map((e) => [e.hostNetwork, e.reader, 'hostSummary' in e])).toEqual([[true, null, false], [true, null, false]]);
  });
});
