import { mkdtempSync, openSync, readFileSync, readSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSeqTextCapped, readTextCapped } from '../../agent/proc/read-capped.js';

/** The first `n` bytes of a file, read until EOF or `n` (the reference, independent of read-capped.ts). */
function head(path: string, n: number): string {
  const buf = Buffer.alloc(n);
  const fd = openSync(path, 'r');
  try {
    let total = 0;
    for (;;) {
      const got = readSync(fd, buf, total, n - total, null);
      if (got === 0 || (total += got) === n) break;
    }
    return buf.toString('utf8', 0, total);
  } finally {
    closeSync(fd);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'read-capped-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('readSeqTextCapped (one read for single-record seq files)', () => {
  it('reads /proc/<pid>/stat and /proc/<pid>/cgroup whole, as reading until EOF does', () => {
    // stat moves (times, counters) between two reads: compare the fields that do not, and the whole cgroup file.
    const stat = readSeqTextCapped('/proc/self/stat', 4096);
    expect(stat.truncated).toBe(false);
    expect(stat.text.endsWith('\n')).toBe(true);
    expect(stat.text.split(' ').length).toBe(readFileSync('/proc/self/stat', 'utf8').split(' ').length);
    expect(readSeqTextCapped('/proc/self/cgroup', 16 * 1024)).toEqual({ text: readFileSync('/proc/self/cgroup', 'utf8'), truncated: false });
  });

  it('reads a cgroupfs file of several lines whole (this process\'s memory.stat or cpu.stat)', () => {
    const lines = readFileSync('/proc/self/cgroup', 'utf8').split('\n');
    const v1 = lines.find((l) => /^\d+:memory:/.test(l));
    const path = v1 ? join('/sys/fs/cgroup/memory', v1.slice(v1.indexOf(':/') + 1), 'memory.stat') : join('/sys/fs/cgroup', lines.find((l) => l.startsWith('0::'))!.slice(3), 'cpu.stat');
    const r = readSeqTextCapped(path, 16 * 1024);
    expect(r.truncated).toBe(false);
    // Counters move between two reads: the same keys in the same order, and the text ends with its last line.
    const keys = (t: string): string[] => t.split('\n').map((l) => l.split(' ')[0]!);
    expect(keys(r.text)).toEqual(keys(readFileSync(path, 'utf8')));
    expect(keys(r.text).length).toBeGreaterThan(3);
  });

  it('caps a regular file as readTextCapped does: exactly the cap is whole, one byte more is truncated', () => {
    const file = join(dir, 'f');
    writeFileSync(file, 'x'.repeat(100));
    expect(readSeqTextCapped(file, 100)).toEqual({ text: 'x'.repeat(100), truncated: false });
    expect(readSeqTextCapped(file, 99)).toEqual({ text: 'x'.repeat(99), truncated: true });
    expect(readSeqTextCapped(file, 99)).toEqual(readTextCapped(file, 99));
    writeFileSync(file, '');
    expect(readSeqTextCapped(file, 10)).toEqual({ text: '', truncated: false });
  });
});

describe('readTextCapped (read until EOF) on a multi-record seq file', () => {
  it('reads past the first short read: /proc/kallsyms comes a page at a time, one read would stop there', () => {
    const cap = 60_000;
    const whole = readTextCapped('/proc/kallsyms', cap);
    expect(whole.truncated).toBe(true);
    expect(whole.text).toBe(head('/proc/kallsyms', cap));
    // Why readSeqTextCapped is only for single-record files: here its one read returns at most the kernel's page.
    expect(readSeqTextCapped('/proc/kallsyms', cap).text.length).toBeLessThanOrEqual(4096);
  });
});
