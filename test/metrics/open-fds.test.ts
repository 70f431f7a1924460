import { closeSync, openSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openFdCount } from '../../agent/metrics/open-fds.js';
import { PersistentMetrics, buildCollectionFamilies } from '../../agent/metrics/registry.js';
import { InjectionTracker } from '../../agent/metrics/injection-tracker.js';
import { valueOf } from '../helpers/metrics-lint.js';
import { cleanPod, snapshot } from './fixtures.js';

const linux = process.platform === 'linux';

/** What prom-client's gauge counts: the listing of /proc/self/fd minus the listing's own fd. */
const listed = (): number => readdirSync('/proc/self/fd').length - 1;

describe.skipIf(!linux)('process_open_fds', () => {
  it('counts the same fds as the listing, and follows opens and closes exactly', () => {
    expect(openFdCount()).toBe(listed());
    const before = openFdCount();
    const fds = Array.from({ length: 7 }, () => openSync('/proc/self/stat', 'r'));
    try {
      expect(openFdCount()).toBe(before + 7);
      expect(openFdCount()).toBe(listed());
    } finally {
      for (const fd of fds) closeSync(fd);
    }
    expect(openFdCount()).toBe(before);
  });

  it('lists the directory when stat gives no size (kernels before 6.2 report 0 for /proc/self/fd)', () => {
    // /proc/self/fdinfo lists the same fds and has st_size 0 on every kernel: the fallback's count.
    const fds = Array.from({ length: 3 }, () => openSync('/proc/self/stat', 'r'));
    try {
      expect(openFdCount('/proc/self/fdinfo')).toBe(openFdCount());
    } finally {
      for (const fd of fds) closeSync(fd);
    }
  });

  it('is what the agent exposes, in place of prom-client\'s gauge (one series, the stat count)', async () => {
    const persistent = new PersistentMetrics();
    const tracker = new InjectionTracker();
    const snap = snapshot([cleanPod()]);
    tracker.observe(snap);
    const fds = Array.from({ length: 5 }, () => openSync('/proc/self/stat', 'r'));
    try {
      const families = await buildCollectionFamilies({ snapshot: snap, bpm: null, extraCollectors: [], compatMetrics: true, firstSeen: (ns, pod, kind) => tracker.firstSeen(ns, pod, kind) });
      const expected = openFdCount();
      const text = (await (await persistent.render(families)).body('prometheus', false)).toString('utf8');
      expect(text.match(/^process_open_fds /gm)).toHaveLength(1);
      expect(text).toContain('# HELP process_open_fds Number of open file descriptors.\n');
      expect(valueOf(text, 'process_open_fds', {})).toBe(expected);
    } finally {
      for (const fd of fds) closeSync(fd);
    }
  });
});
