import { describe, expect, it } from 'vitest';
import { bpmCollector, procCollector, ProcScanMemo, withProcFacts } from '../../agent/collect/proc.js';
import { emptyDraft } from '../../agent/collect/draft.js';
import { silentLogger } from '../../agent/log.js';
import { buildPodIndex } from '../../agent/proc/pod-match.js';
import type { ProcScan } from '../../agent/proc/scan.js';
import { proc, scanOf } from '../proc/fixtures.js';
import { nodePods, nodeProcesses } from '../proc/node-fixture.js';
import { baseOf, notInspected, reportFrom } from '../../agent/collect/report.js';
import { emptyNetnsState, type NetnsState } from '../../agent/netns/state.js';
import { emptyPodProcFacts } from '../../agent/proc/model.js';
import type { PodInfo } from '../../agent/runtime/types.js';
import { ownFds } from '../helpers/procs.js';

const POD: PodInfo = {
  namespace: 'ns', name: 'web', uid: 'u', runtime: 'containerd', endpoint: 'unix:///x', sandboxId: 'sb', state: 'SANDBOX_READY',
  pid: 7, hostNetwork: true, netns: { inode: 4026532000, path: '/proc/7/ns/net' }, containers: [],
};

function report() {
  const state = { ...emptyNetnsState(), notes: ['n'], links: [], addresses: [], routes: [] } as NetnsState;
  const r = reportFrom(baseOf(POD), state, notInspected('x'), 2, ['netns: e']);
  r.hostNetwork = true;
  return r;
}

describe('withProcFacts', () => {
  it('returns a new report with every field of the input, the facts added, the input untouched', () => {
    const input = report();
    const before = structuredClone(input);
    const facts = emptyPodProcFacts('sb');
    facts.dns.push({ container: 'app', pid: 9, state: 'active', nameservers: ['1.1.1.1'], backupNameservers: ['10.0.0.10'] } as never);
    const out = withProcFacts(input, POD, facts, 'unused');
    expect(out).not.toBe(input);
    expect(input).toEqual(before);
    expect(Object.keys(out)).toEqual([...Object.keys(input), 'proc']);
    for (const k of Object.keys(input) as (keyof typeof input)[]) {
      if (k !== 'chaos' && k !== 'errors' && k !== 'dnsChaos') expect(out[k]).toBe(input[k]);
    }
    expect(out.proc).toBe(facts);
    expect(out.dnsChaos).toEqual([{ container: 'app', pid: 9 }]);
    expect(out.errors.slice(0, 1)).toEqual(['netns: e']);
  });

  it('a container in another network namespace: a note (after the reader\'s), an error, and the verdict unknown, not clean', () => {
    const input = reportFrom(baseOf({ ...POD, hostNetwork: false }), { ...emptyNetnsState(), notes: ['read through the tools: x'] }, { verdict: 'clean', kinds: [], findings: [], details: [] }, 0);
    const facts = emptyPodProcFacts('sb');
    facts.otherNetns = [{ container: 'app', pid: 9, net: 4026532001, sandboxNet: 4026532000 }];
    const out = withProcFacts(input, POD, facts, 'unused');
    const note = 'container app (pid 9) is in another network namespace (net:[4026532001]) than its sandbox\'s (net:[4026532000]): not read';
    expect(out.notes).toEqual(['read through the tools: x', note]);
    expect(input.notes).toEqual(['read through the tools: x']);
    expect(out.errors).toEqual([note]);
    expect(out.chaos.verdict).toBe('unknown');
  });

  it('without facts: the reason joins the errors and no proc field is added', () => {
    const out = withProcFacts(report(), POD, null, 'the /proc scan failed: x');
    expect(out.errors).toEqual(['netns: e', 'proc: the /proc scan failed: x']);
    expect('proc' in out).toBe(false);
    expect(out.hostNetwork).toBe(true);
  });
});

describe('bpmCollector', () => {
  it('keeps the counts but fails, saying why, when a child of chaos-daemon could not be told apart (command line unknown)', async () => {
    const procs = [...nodeProcesses(), proc({ pid: 320, ppid: 310, comm: 'pause', cmdline: null })];
    const unread = new Map([[320, { reason: 'timeout' as const, message: 'its command line was not read within 1000 ms' }]]);
    const run = async (scan: ProcScan) => {
      const draft = emptyDraft();
      draft.pods = nodePods();
      draft.proc = { scan, index: buildPodIndex(scan, draft.pods) };
      const out = await bpmCollector().collect(draft, { deadline: performance.now() + 1000, log: silentLogger() });
      return { out, controlled: draft.bpm?.controlled };
    };
    expect(await run(scanOf(procs, { cmdlineUnread: unread }))).toEqual({
      out: { success: false, error: "command line of chaos-daemon's children 320 unknown (its command line was not read within 1000 ms): the bpm counts may miss them" },
      controlled: 2,
    });
    expect(await run(scanOf(procs))).toEqual({ out: { success: true }, controlled: 2 });
  });
});

/** This process's fds open on a /proc/<pid>/stat file. */
const statFds = (): number => ownFds().filter((f) => /^\/proc\/\d+\/stat$/.test(f.target)).length;

describe('procCollector and kept /proc files', () => {
  const ctx = { deadline: performance.now() + 60_000, log: silentLogger() };
  it('keeps stat files open only with a memo (serve), which close() closes; without one (inspect, diff) none stays open', async () => {
    const before = statFds();
    expect(await procCollector({ procRoot: '/proc', scan: { budgetMs: 30_000 } }).collect(emptyDraft(), ctx)).toEqual({ success: true });
    expect(statFds()).toBe(before);

    const memo = new ProcScanMemo();
    expect(await procCollector({ procRoot: '/proc', scan: { budgetMs: 30_000 }, memo }).collect(emptyDraft(), ctx)).toEqual({ success: true });
    expect(memo.files.size).toBeGreaterThan(0);
    expect(statFds()).toBeGreaterThan(before);
    memo.close();
    expect(memo.files.size).toBe(0);
    expect(statFds()).toBe(before);
  });
});
