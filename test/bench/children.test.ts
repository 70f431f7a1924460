/** bench/children.ts onLines: whole lines across chunks, a partial line past the cap dropped and reported. */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { onLines } from '../../bench/children.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('onLines', () => {
  it('gives each whole line once, joined across chunks and split within one', async () => {
    const s = new PassThrough();
    const lines: string[] = [];
    onLines(s, (l) => lines.push(l));
    s.write('ab');
    s.write('c\nde');
    s.write('f\n\ng\nh');
    await tick();
    expect(lines).toEqual(['abc', 'def', '', 'g']);
    s.write('\n');
    await tick();
    expect(lines).toEqual(['abc', 'def', '', 'g', 'h']);
  });

  it('drops a partial line longer than the cap, says how long it was, and reads the lines after it', async () => {
    const s = new PassThrough();
    const lines: string[] = [];
    const dropped: number[] = [];
    onLines(s, (l) => lines.push(l), 10, (n) => dropped.push(n));
    s.write('ok\n0123456789');
    await tick();
    expect(dropped).toEqual([]); // 10 characters: at the cap, kept
    s.write('AB');
    await tick();
    expect(dropped).toEqual([12]);
    s.write('tail\nnext\n');
    await tick();
    // What followed the dropped text up to its newline is the rest of that line, given as a line of its own.
    expect(lines).toEqual(['ok', 'tail', 'next']);
  });

  it('without an overflow callback drops silently', async () => {
    const s = new PassThrough();
    const lines: string[] = [];
    onLines(s, (l) => lines.push(l), 4);
    s.write('xxxxxxxx');
    s.write('y\nz\n');
    await tick();
    expect(lines).toEqual(['y', 'z']);
  });
});
