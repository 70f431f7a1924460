/**
 * agent/file-pages.ts: which mappings of /proc/self/smaps may have their pages released (literal smaps text), and
 * the release itself in this process (its file-backed VmRSS falls, and it keeps running).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { releasableMappings, releaseFilePages } from '../agent/file-pages.js';
import { silentLogger, type Logger } from '../agent/log.js';

/** One smaps entry with the fields the parser reads among some it skips. */
function entry(head: string, rssKb: number, anonKb: number): string {
  return [head, 'Size:               7612 kB', `Rss:                ${rssKb} kB`, 'Pss:                 100 kB', 'Private_Dirty:         0 kB', 'Referenced:          12 kB',
    `Anonymous:          ${anonKb} kB`, 'FilePmdMapped:         0 kB', 'VmFlags: rd mr mw me sd'].join('\n');
}

const SMAPS = [
  entry('00400000-00b6f000 r--p 00000000 fe:00 260689                             /usr/bin/node', 6780, 0),
  entry('00b72000-025fe000 r-xp 00772000 fe:00 260689                             /usr/bin/node', 21112, 0),
  // A mapping not resident at all: nothing to release.
  entry('02600000-02601000 r-xp 02200000 fe:00 260689                             /usr/bin/node', 0, 0),
  // RELRO: relocated (written) then made read-only: its anonymous pages must never be dropped.
  entry('0563a000-0563e000 r--p 05239000 fe:00 260689                             /usr/bin/node', 16, 8),
  entry('0563e000-0565d000 rw-p 0523d000 fe:00 260689                             /usr/bin/node', 124, 92),
  entry('7f1c2a000000-7f1c2a021000 rw-p 00000000 00:00 0 ', 132, 132),
  entry('7f1c2b200000-7f1c2b228000 r--p 00000000 fe:00 1301                       /usr/lib/x86_64-linux-gnu/libc.so.6', 160, 0),
  entry('7f1c2b228000-7f1c2b3bd000 r-xp 00028000 fe:00 1301                       /usr/lib/x86_64-linux-gnu/libc.so.6', 1024, 0),
  // A shared mapping of a file (not private): left alone.
  entry('7f1c2c000000-7f1c2c001000 r--s 00000000 00:05 12                         /dev/zero', 4, 0),
  entry('7ffd1c7f4000-7ffd1c7f6000 r-xp 00000000 00:00 0                          [vdso]', 8, 0),
].join('\n');

describe('releasableMappings', () => {
  it('takes the resident read-only private file mappings without an anonymous page, and nothing else', () => {
    expect(releasableMappings(SMAPS)).toEqual([
      { start: 0x400000n, length: 0x76f000, path: '/usr/bin/node', rssKb: 6780 },
      { start: 0xb72000n, length: 0x1a8c000, path: '/usr/bin/node', rssKb: 21112 },
      { start: 0x7f1c2b200000n, length: 0x28000, path: '/usr/lib/x86_64-linux-gnu/libc.so.6', rssKb: 160 },
      { start: 0x7f1c2b228000n, length: 0x195000, path: '/usr/lib/x86_64-linux-gnu/libc.so.6', rssKb: 1024 },
    ]);
  });

  it('reads a mapping whose smaps has no Anonymous line as not releasable', () => {
    expect(releasableMappings('00400000-00b6f000 r--p 00000000 fe:00 260689 /usr/bin/node\nRss:  6780 kB\n')).toEqual([]);
  });
});

/** This process's file-backed resident memory, KB (/proc/self/status RssFile). */
function rssFileKb(): number {
  return Number(/^RssFile:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
}

describe('releaseFilePages', () => {
  it('unmaps the file pages of this process that only its start read, and the process runs on', async () => {
    const before = rssFileKb();
    const report = await releaseFilePages(silentLogger());
    const after = rssFileKb();
    expect(report.failed).toBe(0);
    expect(report.mappings).toBeGreaterThan(0);
    // node alone maps ~30 MB of its executable while starting; vitest's own start far more of its libraries'.
    expect(report.releasedKb).toBeGreaterThan(10_000);
    expect(before - after).toBeGreaterThan(10_000);
    // Code and data read again come back from the page cache, unchanged: a built-in module loaded only now.
    const { gunzipSync, gzipSync } = await import('node:zlib');
    expect(gunzipSync(gzipSync('still here')).toString()).toBe('still here');
  });

  it('logs and reports nothing released when smaps cannot be read', async () => {
    const warned: unknown[] = [];
    const log = { ...silentLogger(), warn: (o: unknown, m?: string) => void warned.push([o, m]) } as Logger;
    expect(await releaseFilePages(log, 'now', '/nonexistent/smaps')).toEqual({ mappings: 0, releasedKb: 0, failed: 0 });
    expect(warned).toEqual([[{ err: "ENOENT: no such file or directory, open '/nonexistent/smaps'", when: 'now' }, 'could not release the file pages mapped at start']]);
  });
});
