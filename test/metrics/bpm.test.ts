import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BpmStartCounter, registerBpmMetrics } from '../../agent/metrics/bpm.js';
import { CollectionFamilies } from '../../agent/metrics/families.js';
import { familiesText } from './families-text.js';
import type { BpmReport } from '../../agent/proc/bpm.js';
import { samplesOf, valueOf } from '../helpers/metrics-lint.js';

function report(bg: [number, number, BpmReport['background'][number]['command']][]): BpmReport {
  const background = bg.map(([pid, startTicks, command]) => ({ pid, startTicks, command, identified: command === 'toda' || command === 'tproxy', root: 1 }));
  const byCommand = new Map<BpmReport['background'][number]['command'], number>();
  for (const b of background) byCommand.set(b.command, (byCommand.get(b.command) ?? 0) + 1);
  return { daemons: [], background, controlled: background.filter((b) => b.identified).length, byCommand, impostors: [], unknown: [] };
}

describe('bpm metrics', () => {
  it('controlled counts identified processes; command takes only the closed set of tools', async () => {
    const reg = new CollectionFamilies();
    registerBpmMetrics(reg, report([[2, 1, 'toda'], [3, 1, 'tproxy'], [4, 1, 'stress-ng'], [5, 1, 'stress-ng']]));
    const t = await familiesText(reg);
    expect(valueOf(t, 'chaos_daemon_bpm_controlled_processes')).toBe(2);
    expect(samplesOf(t, 'chaos_daemon_bpm_processes').map((s) => [s.labels.command, s.value])).toEqual([['toda', 1], ['tproxy', 1], ['stress-ng', 2]]);
  });

  it('registers nothing without a report', async () => {
    const reg = new CollectionFamilies();
    registerBpmMetrics(reg, null);
    expect(reg.families).toEqual([]);
  });

  it('the start counter counts each background process once (pid + start time), across collections', async () => {
    const reg = new Registry();
    const c = new BpmStartCounter(reg);
    const total = async () => valueOf(await reg.metrics(), 'chaos_daemon_bpm_controlled_process_total');
    expect(await total()).toBe(0);
    c.observe(report([[2, 10, 'toda'], [3, 10, 'stress-ng']]));
    expect(await total()).toBe(2);
    c.observe(report([[2, 10, 'toda'], [3, 10, 'stress-ng']]));
    c.observe(null); // an unread collection forgets nothing
    expect(await total()).toBe(2);
    c.observe(report([[2, 10, 'toda'], [3, 99, 'memStress']])); // pid 3 reused by a new process
    expect(await total()).toBe(3);
  });
});
