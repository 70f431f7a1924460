import { describe, expect, it } from 'vitest';
import { parseMarker, splitFrames } from '../../../agent/netns/nsenter/frames.js';

const B = '0123456789abcdef0123456789abcdef';
const begin = (name: string, t: string) => `\n${B} begin ${name} ${t}\n`;
const end = (name: string, st: number, t: string) => `\n${B} end ${name} ${st} ${t}\n`;
const done = (t: string) => `\n${B} done ${t}\n`;

describe('splitFrames', () => {
  it('splits two tools with exact output, status, times and stderr', () => {
    const out = begin('nft', '100.000100') + 'table ip filter\n' + end('nft', 0, '100.002600')
      + begin('tc', '100.003000') + '[{"kind":"noqueue"}]' + end('tc', 2, '100.013000') + done('100.013100');
    const err = begin('nft', '100.000100') + begin('tc', '100.003000') + 'Error: oops\n';
    const r = splitFrames(out, err, B);
    expect(r.done).toBe(true);
    expect(r.stray).toEqual({ stdout: '', stderr: '' });
    expect(r.frames).toEqual([
      { name: 'nft', begin: 100.0001, end: 100.0026, status: 0, stdout: 'table ip filter\n', stderr: '' },
      // no trailing newline in the tool output: none added
      { name: 'tc', begin: 100.003, end: 100.013, status: 2, stdout: '[{"kind":"noqueue"}]', stderr: 'Error: oops\n' },
    ]);
  });

  it('empty output and back-to-back frames', () => {
    const out = begin('a', '1') + end('a', 0, '2') + begin('b', '3') + '\n' + end('b', 0, '4') + done('5');
    const r = splitFrames(out, '', B);
    expect(r.frames.map((f) => [f.name, f.stdout, f.status])).toEqual([['a', '', 0], ['b', '\n', 0]]);
    expect(r.done).toBe(true);
  });

  it('truncated output: the last frame keeps what was read, without status; no done', () => {
    const out = begin('ipset', '1.5') + 'create s hash:ip\nadd s 10.0.0.1\nadd s 10.0.0.';
    const r = splitFrames(out, begin('ipset', '1.5'), B);
    expect(r.done).toBe(false);
    expect(r.frames).toEqual([{ name: 'ipset', begin: 1.5, end: null, status: null, stdout: 'create s hash:ip\nadd s 10.0.0.1\nadd s 10.0.0.', stderr: '' }]);
  });

  it('output cut inside a marker line: the partial marker stays content, nothing throws', () => {
    const out = begin('a', '1') + 'x\n' + end('a', 0, '2') + `\n${B} beg`;
    const r = splitFrames(out, '', B);
    expect(r.frames).toEqual([{ name: 'a', begin: 1, end: 2, status: 0, stdout: 'x\n', stderr: '' }]);
    expect(r.stray.stdout).toBe(`\n${B} beg`);
    expect(r.done).toBe(false);
  });

  it('a missing end frame: the next begin closes it as incomplete', () => {
    const out = begin('a', '1') + 'partial' + begin('b', '2') + 'ok\n' + end('b', 0, '3') + done('4');
    const r = splitFrames(out, '', B);
    expect(r.frames.map((f) => [f.name, f.stdout, f.status, f.end])).toEqual([['a', 'partial', null, null], ['b', 'ok\n', 0, 3]]);
    expect(r.done).toBe(true);
  });

  it('the boundary inside tool output: malformed markers and an end for another frame are content', () => {
    const inner = `\n${B} end other 0 5\n${B} begin\n${B} begin x y\n${B} end a notanumber 1\n`;
    const out = begin('a', '1') + 'before' + inner + 'after' + end('a', 0, '9') + done('10');
    const r = splitFrames(out, '', B);
    expect(r.frames).toHaveLength(1);
    expect(r.frames[0]!.stdout).toBe(`before${inner}after`);
    expect(r.frames[0]!.status).toBe(0);
    // A well-formed forged begin inside the output splits the frame but never throws.
    const forged = begin('a', '1') + 'x' + begin('z', '2') + 'y' + end('a', 0, '3');
    const f = splitFrames(forged, '', B);
    expect(f.frames.map((x) => [x.name, x.stdout, x.status])).toEqual([['a', 'x', null], ['z', `y${end('a', 0, '3')}`, null]]);
  });

  it('text outside frames is stray: nsenter errors before any frame, text after done', () => {
    const r = splitFrames('', 'nsenter: cannot open /proc/1/ns/net: No such file or directory\n', B);
    expect(r.frames).toEqual([]);
    expect(r.done).toBe(false);
    expect(r.stray.stderr).toBe('nsenter: cannot open /proc/1/ns/net: No such file or directory\n');
    const r2 = splitFrames(begin('a', '1') + end('a', 0, '2') + done('3') + 'late' + begin('b', '4'), '', B);
    expect(r2.frames.map((f) => f.name)).toEqual(['a']);
    expect(r2.stray.stdout).toBe(`late${begin('b', '4')}`);
  });

  it('stderr frames pair with stdout frames by name and order; a stderr-only frame is kept', () => {
    const out = begin('ip-rule', '1') + 'r1\n' + end('ip-rule', 0, '2') + begin('ip6-rule', '3') + 'r2\n' + end('ip6-rule', 1, '4');
    const err = begin('ip-rule', '1') + 'w1' + begin('ip6-rule', '3') + 'e2\n' + begin('ipset', '5') + 'e3';
    const r = splitFrames(out, err, B);
    expect(r.frames.map((f) => [f.name, f.stderr, f.status])).toEqual([['ip-rule', 'w1', 0], ['ip6-rule', 'e2\n', 1], ['ipset', 'e3', null]]);
  });

  it('another boundary is not ours', () => {
    const other = 'ffffffffffffffffffffffffffffffff';
    const out = `\n${other} begin a 1\nx\n${other} end a 0 2\n`;
    const r = splitFrames(out, '', B);
    expect(r.frames).toEqual([]);
    expect(r.stray.stdout).toBe(out);
  });
});

describe('parseMarker', () => {
  it('reads begin / end / done and refuses the rest', () => {
    expect(parseMarker('begin iptables-nft-save 1700000000.123456')).toEqual({ kind: 'begin', name: 'iptables-nft-save', t: 1700000000.123456 });
    expect(parseMarker('end tc 127 1700000000.5')).toEqual({ kind: 'end', name: 'tc', status: 127, t: 1700000000.5 });
    expect(parseMarker('done 12')).toEqual({ kind: 'done', t: 12 });
    for (const bad of ['begin', 'begin A 1', 'begin a 1 2', 'end a 1', 'end a 1000 1', 'done', 'done x', 'begin a 1,5', ' begin a 1']) {
      expect(parseMarker(bad)).toBeNull();
    }
  });
});
