/**
 * Which interface names go into the text of a `tc -batch -` input and which are read by tc processes of their own
 * (agent/netns/nsenter/tc-commands.ts). `batchWords` models iproute2's batch line reader (lib/utils.c getcmdline +
 * makeargs); tc-odd-names.test.ts checks the model's cases against the installed tc.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  isBatchSafeInterfaceName,
  isValidInterfaceName,
  tcArgv,
  tcBatchCommands,
  tcFilterCommands,
  tcTreeCommands,
  type TcBatchCommand,
} from '../../../agent/netns/nsenter/tc-commands.js';
import { parseTcBatch } from '../../../agent/netns/nsenter/tc.js';

/** The words iproute2 makes of one batch line: cut at `#`, split at space/tab/CR/LF, a word opening with a quote runs to the same quote. */
function batchWords(line: string): string[] {
  const hash = line.indexOf('#');
  const s = hash < 0 ? line : line.slice(0, hash);
  const ws = ' \t\r\n';
  const words: string[] = [];
  let i = 0;
  while (i < s.length) {
    while (i < s.length && ws.includes(s[i]!)) i++;
    if (i >= s.length) break;
    if (s[i] === "'" || s[i] === '"') {
      const end = s.indexOf(s[i]!, i + 1);
      if (end < 0) throw new Error('Unterminated quoted string');
      words.push(s.slice(i + 1, end));
      i = end + 1;
    } else {
      let j = i;
      while (j < s.length && !ws.includes(s[j]!)) j++;
      words.push(s.slice(i, j));
      i = j + 1;
    }
  }
  return words;
}

const deviceOf = (line: string): string | undefined => {
  const w = batchWords(line);
  return w[w.indexOf('dev') + 1];
};

describe('iproute2 batch words (the model)', () => {
  it('reproduces what tc 6.1 does with the names of the audit', () => {
    expect(deviceOf('class show dev eth0#x')).toBe('eth0');
    expect(deviceOf("class show dev 'eth0'")).toBe('eth0');
    expect(deviceOf("class show dev q'x")).toBe("q'x");
    expect(() => batchWords("class show dev 'qy")).toThrow('Unterminated quoted string');
    expect(() => batchWords('class show dev "q#x')).toThrow('Unterminated quoted string');
  });
});

describe('interface names', () => {
  it('valid: what dev_valid_name allows, 15 bytes at most (UTF-8 bytes, not UTF-16 units)', () => {
    const ok = ['eth0', 'eth0#x', "'eth0'", "q'x", 'q"#\\x', 'a\\b#c', 'é', 'a\u0001b', 'x'.repeat(15), `${'a'.repeat(13)}é`, '-x', '...'];
    const bad = ['', '.', '..', 'a/b', 'a:b', 'a b', 'a\tb', 'a\nb', 'a\u000bb', 'a\u000cb', 'a\rb', 'a\0b', 'x'.repeat(16), `${'a'.repeat(14)}é`];
    expect(ok.filter((n) => !isValidInterfaceName(n))).toEqual([]);
    expect(bad.filter((n) => isValidInterfaceName(n))).toEqual([]);
    expect(`${'a'.repeat(14)}é`.length).toBe(15); // 16 bytes: refused although 15 UTF-16 units
  });

  it('batch-safe: the allow-list only; every name with #, a quote, a backslash or a non-ASCII byte is not', () => {
    const safe = ['lo', 'eth0', 'veth1a2b3c4d', 'cali0123456789a', 'flannel.1', 'kube-ipvs0', 'cilium_host', 'vxlan.calico', 'a@b', 'a+b=c', 'x'.repeat(15)];
    const odd = ['eth0#x', '#', "'eth0'", "q'x", '"q', 'a\\b', 'é', 'a\u0001b', '.', '..', '', 'x'.repeat(16), 'a b', 'a:b', 'a/b', 'a%b'];
    expect(safe.filter((n) => !isBatchSafeInterfaceName(n))).toEqual([]);
    expect(odd.filter((n) => isBatchSafeInterfaceName(n))).toEqual([]);
  });
});

describe('the plans', () => {
  const names = ['lo', 'eth0#x', 'eth0', "'eth0'", "q'x", 'q"#\\x', 'a\\b', 'bad name', 'x'.repeat(16)];

  it('tree: odd names are read by argv in device order, never written in the batch; impossible names rejected', () => {
    const p = tcTreeCommands(names);
    expect(p.input).toBe('qdisc show dev lo\nclass show dev lo\nqdisc show dev eth0\nclass show dev eth0\n');
    expect(p.commands.map((c) => `${c.kind} ${c.dev}`)).toEqual(['qdisc lo', 'class lo', 'qdisc eth0', 'class eth0']);
    const odd = ['eth0#x', "'eth0'", "q'x", 'q"#\\x', 'a\\b'];
    expect(p.single.map((c) => `${c.kind} ${c.dev}`)).toEqual(odd.flatMap((d) => [`qdisc ${d}`, `class ${d}`]));
    expect(p.order.map((c) => c.dev)).toEqual(['lo', 'lo', 'eth0#x', 'eth0#x', 'eth0', 'eth0', "'eth0'", "'eth0'", "q'x", "q'x", 'q"#\\x', 'q"#\\x', 'a\\b', 'a\\b']);
    expect(p.rejected).toEqual(['bad name', 'x'.repeat(16)]);
    expect(p.single.map(tcArgv)[0]).toEqual(['tc', '-s', '-d', '-raw', '-j', 'qdisc', 'show', 'dev', 'eth0#x']);
  });

  it('filters: hooks and handles by argv for odd names; a parent that is no handle is rejected', () => {
    const p = tcFilterCommands([
      { interface: 'eth0', parent: '1:' },
      { interface: 'd#1', parent: '1:' },
      { interface: 'd#1', parent: '1:10' },
      { interface: "q'x", parent: 'ingress' },
      { interface: "'a'", parent: 'egress' },
      { interface: 'eth0', parent: '1:1; rm -rf' },
      { interface: 'd#1', parent: "1:1'" },
    ]);
    expect(p.input).toBe('filter show dev eth0 parent 1:\n');
    expect(p.single.map(tcArgv)).toEqual([
      ['tc', '-s', '-d', '-raw', '-j', 'filter', 'show', 'dev', 'd#1', 'parent', '1:'],
      ['tc', '-s', '-d', '-raw', '-j', 'filter', 'show', 'dev', 'd#1', 'parent', '1:10'],
      ['tc', '-s', '-d', '-raw', '-j', 'filter', 'show', 'dev', "q'x", 'ingress'],
      ['tc', '-s', '-d', '-raw', '-j', 'filter', 'show', 'dev', "'a'", 'egress'],
    ]);
    expect(p.rejected).toEqual(['eth0 1:1; rm -rf', "d#1 1:1'"]);
    expect(p.order.length).toBe(5);
  });

  it('one batch: qdisc show of every device first, class and filter per device; odd names by argv', () => {
    const p = tcBatchCommands(['eth0', 'e#0', '"x']);
    expect(p.input).toBe('qdisc show\nclass show dev eth0\nfilter show dev eth0\n');
    expect(p.single).toEqual([{ kind: 'class', dev: 'e#0' }, { kind: 'filter', dev: 'e#0' }, { kind: 'class', dev: '"x' }, { kind: 'filter', dev: '"x' }]);
    expect(p.rejected).toEqual([]);
  });

  it('a command read alone is parsed as a batch of that command', () => {
    const cmd: TcBatchCommand = { kind: 'qdisc', dev: 'e#0' };
    const d = parseTcBatch('[{"kind":"htb","handle":"1:","root":true,"refcnt":2,"options":{"r2q":10,"default":"0","direct_packets_stat":0}}]\n', [cmd]);
    expect(d.errors).toEqual([]);
    expect(d.qdiscs.map((q) => [q.interface, q.kind, q.handle])).toEqual([['e#0', 'htb', '1:']]);
  });

  it('property: every valid name is asked exactly once; read as iproute2 reads it, every batch line names its device exactly', () => {
    const unit = fc.constantFrom('a', 'Z', '0', '_', '-', '.', '@', '#', "'", '"', '\\', '%', 'é', '\u0001', ' ', '/', ':');
    const name = fc.string({ unit, minLength: 0, maxLength: 17 });
    fc.assert(
      fc.property(fc.uniqueArray(name, { maxLength: 8 }), (devs) => {
        const p = tcTreeCommands(devs);
        const valid = devs.filter(isValidInterfaceName);
        expect(p.order.map((c) => `${c.kind} ${c.dev}`)).toEqual(valid.flatMap((d) => [`qdisc ${d}`, `class ${d}`]));
        expect(p.rejected).toEqual(devs.filter((d) => !isValidInterfaceName(d)));
        const both = new Set([...p.commands, ...p.single]);
        expect([both.size, p.commands.length + p.single.length]).toEqual([p.order.length, p.order.length]);
        const lines = p.input.split('\n').filter((l) => l !== '');
        expect(lines.map((l) => batchWords(l))).toEqual(p.commands.map((c) => [c.kind, 'show', 'dev', c.dev]));
      }),
      { numRuns: 500 },
    );
  });
});
