/**
 * attachIntent (intent/attach.ts) on an active partition nobody intends (its chains leftover, active): with the
 * exporter's first-seen times (serve) a leftover has an age; without them (one-shot commands, which watch nothing)
 * it has none, and the human drift line says nothing about age, instead of `seen 0 s` for an injection of any age.
 */
import { describe, expect, it } from 'vitest';
import { judge, reportFrom } from '../../agent/collect/report.js';
import { attachIntent } from '../../agent/intent/attach.js';
import { driftLines } from '../../agent/intent/format.js';
import type { IntentStatus } from '../../agent/intent/model.js';
import { IntentView } from '../../agent/intent/view.js';
import { silentLogger } from '../../agent/log.js';
import type { PodReport } from '../../agent/snapshot.js';
import { ipsets, iptables, state } from '../chaos/builders.js';
import { ACTIVE_PARTITION, EXP, PARTITION_SETS } from '../chaos/samples.js';

const NOW = 1_800_000_000;
const SYNCED: IntentStatus = { state: 'synced', syncAgeSeconds: 0, errors: [] };

function leftoverPartition(): PodReport {
  const st = state({ iptables: [iptables(ACTIVE_PARTITION, 'legacy')], ipsets: ipsets(PARTITION_SETS) });
  return reportFrom({ namespace: 'shop', name: 'web', runtime: 'containerd', netns: { inode: 4026531840, path: '/proc/7/ns/net' }, pod: null }, st, judge(st, silentLogger()), 0);
}

function nothingIntended(): IntentView {
  return new IntentView({ network: [], http: [], io: [], experiments: [] }, SYNCED);
}

function chainEntry(r: PodReport) {
  return r.drift!.entries.find((e) => e.name === `OUTPUT/${EXP}`)!;
}

describe('attachIntent: leftover ages', () => {
  it('one-shot (no first-seen times): no age, and no "seen" in the drift line', () => {
    const r = leftoverPartition();
    attachIntent([r], nothingIntended(), undefined, NOW);
    expect(chainEntry(r)).toMatchObject({ state: 'leftover', active: true, kinds: ['partition'], firstSeen: null, ageSeconds: null });
    expect(driftLines(r)).toContain(`    leftover chain OUTPUT/${EXP} (legacy ipv4 filter)  owner: none  [partition, active]\n      OUTPUT/${EXP} (1 rule) is in the kernel, but no PodNetworkChaos entry asks for it`);
  });

  it('serve (first-seen times kept): the age from the first sighting, 0 s for one never seen before', () => {
    const r = leftoverPartition();
    attachIntent([r], nothingIntended(), (_ns, _pod, kind) => (kind === 'partition' ? NOW - 600 : undefined), NOW);
    expect(chainEntry(r)).toMatchObject({ firstSeen: NOW - 600, ageSeconds: 600 });
    expect(driftLines(r).join('\n')).toContain('owner: none  [partition, active, seen 10 min]');
    const fresh = leftoverPartition();
    attachIntent([fresh], nothingIntended(), () => undefined, NOW);
    expect(chainEntry(fresh)).toMatchObject({ firstSeen: NOW, ageSeconds: 0 });
  });
});
