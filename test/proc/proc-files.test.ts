import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ParseError } from '../../agent/errors.js';
import { parseBootTime, parseCgroupFile, parseCmdline, parseNsLink, parseProcStat, parseProcStatBytes, statCommIs, type StatBytes } from '../../agent/proc/proc-files.js';

// Captured on this machine from a containerd pod's sleep (pid 25367, see test/proc/facts.containerd.test.ts).
const STAT = '25367 (sleep) S 25313 25367 25367 0 -1 4194560 649 0 0 0 0 1 0 0 20 0 1 0 74006 2322432 348 18446744073709551615 4198400 5785993 140732293039488 0 0 0 0 0 0 1 0 0 17 1 0 0 0 0 0 6141704 6178576 954281984 140732293042107 140732293042123 140732293042123 140732293042157 0\n';
const CGROUP = `9:name=systemd:/k8s.io/7b8d4e6f8850f9d3ec5f53aca2fb4a6c878af69e92a8eaf26bc95f67bdeecb56
8:pids:/k8s.io/7b8d4e6f8850f9d3ec5f53aca2fb4a6c878af69e92a8eaf26bc95f67bdeecb56
4:memory:/k8s.io/7b8d4e6f8850f9d3ec5f53aca2fb4a6c878af69e92a8eaf26bc95f67bdeecb56
2:cpu,cpuacct:/k8s.io/7b8d4e6f8850f9d3ec5f53aca2fb4a6c878af69e92a8eaf26bc95f67bdeecb56
0::/k8s.io/7b8d4e6f8850f9d3ec5f53aca2fb4a6c878af69e92a8eaf26bc95f67bdeecb56
`;

describe('/proc/<pid>/stat', () => {
  it('reads pid, comm, state, ppid and starttime (field 22)', () => {
    expect(parseProcStat(STAT)).toEqual({ pid: 25367, comm: 'sleep', state: 'S', ppid: 25313, startTicks: 74006 });
  });
  it('cuts comm at the last parenthesis (comm may hold spaces and parentheses)', () => {
    const r = parseProcStat('7 (a (b) c) R 3 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 555 0 0');
    expect(r).toMatchObject({ pid: 7, comm: 'a (b) c', state: 'R', ppid: 3, startTicks: 555 });
  });
  it('refuses garbage with a ParseError', () => {
    expect(() => parseProcStat('garbage')).toThrow(ParseError);
    expect(() => parseProcStat('1 (x) S 0')).toThrow(/starttime/);
    expect(() => parseProcStat('x (y) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20')).toThrow(/pid/);
  });
  it('reads the same fields as splitting the whole line on whitespace (the kernel\'s 52 fields, any separators)', () => {
    const sep = fc.constantFrom(' ', '  ', '\t', ' \n');
    const field = fc.nat({ max: 4_000_000_000 }).map(String);
    fc.assert(fc.property(fc.integer({ min: 1, max: 4_194_304 }), fc.string({ maxLength: 15 }), fc.constantFrom('R', 'S', 'D', 'Z'), fc.array(fc.tuple(sep, field), { minLength: 19, maxLength: 52 }), fc.constantFrom('', '\n'), (pid, comm, state, rest, end) => {
      const text = `${pid} (${comm}) ${state}${rest.map(([s, f]) => s + f).join('')}${end}`;
      const ref = text.slice(text.lastIndexOf(')') + 1).trim().split(/\s+/);
      const r = parseProcStat(text);
      expect(r).toEqual({ pid, comm, state, ppid: Number(ref[1]), startTicks: Number(ref[19]) });
    }), { numRuns: 1000 });
  });
  it('is total: arbitrary text gives fields or a ParseError', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => {
      try {
        const r = parseProcStat(s);
        expect(Number.isSafeInteger(r.pid) && r.pid > 0).toBe(true);
      } catch (err) {
        expect(err).toBeInstanceOf(ParseError);
      }
    }), { numRuns: 2000 });
  });
});

/** parseProcStatBytes' fields in parseProcStat's shape, or 'declined'. */
function viaBytes(text: string): ReturnType<typeof parseProcStat> | 'declined' {
  const buf = Buffer.from(text, 'utf8');
  const s: StatBytes = { pid: -1, ppid: -1, startTicks: -1, state: -1, commStart: -1, commEnd: -1 };
  if (!parseProcStatBytes(buf, buf.length, s)) return 'declined';
  const comm = buf.toString('latin1', s.commStart, s.commEnd);
  expect(statCommIs(buf, s, comm)).toBe(true);
  expect(statCommIs(buf, s, `${comm}x`)).toBe(false);
  return { pid: s.pid, comm, state: String.fromCharCode(s.state), ppid: s.ppid, startTicks: s.startTicks };
}

describe('/proc/<pid>/stat from its bytes (parseProcStatBytes)', () => {
  it('takes the kernel\'s form, with exactly the text parser\'s fields', () => {
    expect(viaBytes(STAT)).toEqual(parseProcStat(STAT));
    const odd = '7 (a (b) c) R 3 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 555 0 0';
    expect(viaBytes(odd)).toEqual(parseProcStat(odd));
  });
  it('declines what is not plain ASCII digits (the text parser then decides)', () => {
    for (const t of ['garbage', '1 (x) S 0', '0x1F (y) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20', ' 7 (y) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20',
      '7 (\u00e9t\u00e9) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20', '7 (y) S 1e3 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20', '7 (y) SS 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20']) {
      expect(viaBytes(t)).toBe('declined');
    }
  });
  it('never disagrees with parseProcStat: when it takes a text, the same fields', () => {
    const sep = fc.constantFrom(' ', '  ', '\t', ' \n');
    const field = fc.oneof(fc.nat({ max: 4_000_000_000 }).map(String), fc.constantFrom('-1', '', '1e2', '0x10', '18446744073709551615', '00012'));
    const pidText = fc.oneof(fc.integer({ min: 0, max: 4_194_304 }).map(String), fc.constantFrom('', ' 5', '5 ', '0x9', '007'));
    fc.assert(fc.property(pidText, fc.string({ maxLength: 15 }), fc.constantFrom('R', 'S', 'Z', 'é', 'RS', ''), fc.array(fc.tuple(sep, field), { minLength: 15, maxLength: 52 }), fc.constantFrom('', '\n'), (pid, comm, state, rest, end) => {
      const text = `${pid} (${comm}) ${state}${rest.map(([s, f]) => s + f).join('')}${end}`;
      const got = viaBytes(text);
      if (got === 'declined') return;
      expect(got).toEqual(parseProcStat(text));
    }), { numRuns: 3000 });
  });
  it('takes every file in the kernel\'s form (any ASCII comm, 20 to 52 numeric fields)', () => {
    const field = fc.nat({ max: 4_000_000_000 }).map(String);
    const ascii = fc.string({ maxLength: 15, unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) });
    fc.assert(fc.property(fc.integer({ min: 1, max: 4_194_304 }), ascii, fc.constantFrom('R', 'S', 'D', 'Z', 'I'), fc.array(field, { minLength: 20, maxLength: 52 }), (pid, comm, state, rest) => {
      const text = `${pid} (${comm}) ${state} ${rest.join(' ')}\n`;
      expect(viaBytes(text)).toEqual(parseProcStat(text));
    }), { numRuns: 2000 });
  });
});

describe('/proc/<pid>/cgroup', () => {
  it('reads v1 lines (controllers) and the v2 line', () => {
    const lines = parseCgroupFile(CGROUP);
    expect(lines).toHaveLength(5);
    expect(lines[3]).toEqual({ hierarchy: 2, controllers: ['cpu', 'cpuacct'], path: '/k8s.io/7b8d4e6f8850f9d3ec5f53aca2fb4a6c878af69e92a8eaf26bc95f67bdeecb56' });
    expect(lines[4]).toEqual({ hierarchy: 0, controllers: [], path: '/k8s.io/7b8d4e6f8850f9d3ec5f53aca2fb4a6c878af69e92a8eaf26bc95f67bdeecb56' });
  });
  it('keeps colons inside the path and skips unreadable lines', () => {
    expect(parseCgroupFile('0::/a:b\nnope\n3:cpu:relative\n-1::/x\n')).toEqual([{ hierarchy: 0, controllers: [], path: '/a:b' }]);
  });
  it('is total', () => {
    fc.assert(fc.property(fc.string({ maxLength: 400 }), (s) => {
      for (const l of parseCgroupFile(s)) expect(l.path.startsWith('/')).toBe(true);
    }), { numRuns: 2000 });
  });
  it('gives what splitting into lines and fields gives, on text made of the format\'s own characters', () => {
    // The reference: the line-splitting parser the index walk replaced.
    const reference = (text: string) => text.split('\n').flatMap((line) => {
      const a = line.indexOf(':');
      const b = a < 0 ? -1 : line.indexOf(':', a + 1);
      if (b < 0) return [];
      const hierarchy = Number(line.slice(0, a));
      const path = line.slice(b + 1);
      if (!Number.isSafeInteger(hierarchy) || hierarchy < 0 || !path.startsWith('/')) return [];
      const list = line.slice(a + 1, b);
      return [{ hierarchy, controllers: list === '' ? [] : list.split(','), path }];
    });
    const text = fc.array(fc.constantFrom('0', '1', '12', ':', ':', '/', ',', '\n', '\n', 'cpu', 'x', ' ', '-', '.'), { maxLength: 60 }).map((a) => a.join(''));
    fc.assert(fc.property(text, (s) => {
      expect(parseCgroupFile(s)).toEqual(reference(s));
    }), { numRuns: 5000 });
  });
  it('shares one frozen controller array between lines with the same list (no line can change another\'s)', () => {
    const [a, b] = parseCgroupFile('2:cpu,cpuacct:/a\n2:cpu,cpuacct:/b\n');
    expect(a!.controllers).toBe(b!.controllers);
    expect(Object.isFrozen(a!.controllers)).toBe(true);
  });
});

describe('ns links, cmdline, btime', () => {
  it('reads the inode of the expected kind only', () => {
    expect(parseNsLink('net:[4026532547]', 'net')).toBe(4026532547);
    expect(parseNsLink('net:[4026532547]', 'pid')).toBeNull();
    expect(parseNsLink('net:[x]', 'net')).toBeNull();
  });
  it('reads what the anchored pattern `kind:[1-20 digits]` reads, on text made of the format\'s own characters', () => {
    const reference = (link: string, kind: string): number | null => {
      const m = /^([a-z_]+):\[(\d{1,20})\]$/.exec(link);
      if (!m || m[1] !== kind) return null;
      const n = Number(m[2]);
      return Number.isSafeInteger(n) ? n : null;
    };
    const link = fc.array(fc.constantFrom('net', 'pid', 'mnt', ':', '[', ']', '0', '4026532547', '9', 'x', '_', '\n', '99999999999999999'), { maxLength: 8 }).map((a) => a.join(''));
    fc.assert(fc.property(link, fc.constantFrom('net', 'pid', 'mnt', '', 'n:t', 'NET'), (l, kind) => {
      expect(parseNsLink(l, kind)).toBe(reference(l, kind));
    }), { numRuns: 10000 });
    expect(parseNsLink('net:[4026532547]\n', 'net')).toBeNull();
    expect(parseNsLink('net:[]', 'net')).toBeNull();
    expect(parseNsLink(`net:[${'1'.repeat(21)}]`, 'net')).toBeNull();
  });
  it('splits argv on NUL, a rewritten argv stays one argument', () => {
    expect(parseCmdline(Buffer.from('/usr/local/bin/toda\0--path\0/data\0--verbose\0info\0'))).toEqual(['/usr/local/bin/toda', '--path', '/data', '--verbose', 'info']);
    expect(parseCmdline(Buffer.from('nginx: worker process\0\0\0'))).toEqual(['nginx: worker process', '', '']);
    expect(parseCmdline(Buffer.alloc(0))).toEqual([]);
  });
  it('reads btime from /proc/stat', () => {
    expect(parseBootTime('cpu  1 2 3\nintr 5\nctxt 9\nbtime 1764401000\nprocesses 77\n')).toBe(1764401000);
    expect(parseBootTime('cpu 1\n')).toBeNull();
  });
});
