/**
 * Reads one network namespace's iptables (both backends, IPv4 and IPv6), ipsets, tc state, fwmark ip rules and
 * DNSChaos markers, for as few process spawns as possible. Decisions that cost no spawn:
 * - /proc/<pid>/net/ip_tables_names and ip6_tables_names (readable from the host) list the legacy xtables
 *   tables instantiated in that namespace: the legacy *-save tools only run when a table exists.
 * - /proc/<pid>/net/dev lists the interfaces, so tc reads qdiscs, classes and filters of every interface in
 *   ONE `tc -s -d -j -batch -` process.
 * - /proc/<containerPid>/root/etc/resolv.conf.chaos.bak is a stat (DNSChaos).
 * One spawn decides for nf_tables: `nft list tables` names the ip / ip6 tables; iptables-nft-save and
 * ip6tables-nft-save only run for a family that holds an xtables-compatible table (fallback when nft is not
 * installed: both). `ipset save` only runs when some iptables table or tc filter exists (an ipset changes no
 * traffic without a rule that matches it), and `ip rule` only when a mangle TPROXY / DIVERT rule exists
 * (HTTPChaos). `exhaustive: true` reads everything regardless.
 * An empty pod namespace costs 2 spawns (nft, tc); one with Chaos Mesh's legacy partition 4.
 * Without a usable PID (a bare netns file), legacy tables and interfaces are unknown: both legacy tools run and
 * tc runs twice (qdiscs first, then classes and filters of the interfaces it printed when any is not trivial).
 */
import { readFile, stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { NetnsCommandError, errorMessage } from '../errors.js';
import { validatePid } from '../runtime/netns-resolve.js';
import type { NetnsRunner } from './exec.js';
import { validateNetnsPath } from './exec.js';
import { parseIpsetSave } from './ipset.js';
import { parseIptablesSave } from './iptables.js';
import { parseTcBatch, parseTcQdiscs, tcBatchCommands } from './tc.js';
import type { IpFamily, IptablesBackend, IptablesDump, NetnsState, TcDump } from './types.js';

export interface ReadTarget {
  netnsPath: string;
  /** A process in the namespace (the sandbox's); lets the reader look at /proc/<pid>/net without a spawn. */
  pid: number | null;
  procRoot: string;
  /** Containers to check for DNSChaos (/proc/<pid>/root/etc/resolv.conf.chaos.bak). */
  containerPids?: { name: string; pid: number }[];
}

export interface ReadOptions {
  /** Read every tool, whatever the cheap checks say (2 legacy + 2 nft + ipset + tc). */
  exhaustive?: boolean;
  signal?: AbortSignal;
}

const XTABLES_TABLES = new Set(['filter', 'nat', 'mangle', 'raw', 'security']);
/** Qdisc kinds that have classes or filters worth a `class show` / `filter show`. */
const TRIVIAL_QDISCS = new Set(['noqueue', 'pfifo_fast', 'fq_codel', 'mq', 'pfifo', 'bfifo', 'fq', 'noop', 'tbf', 'netem', 'sfq', 'cake']);
const MAX_PROC_FILE = 1 << 20;

/** Per-runner memory of tools found missing in the image (asked once, not at every collection). */
const missingTools = new WeakMap<NetnsRunner, Set<string>>();

type StateError = NetnsState['errors'][number];

export function emptyNetnsState(): NetnsState {
  return {
    iptables: [],
    ipsets: { sets: [], errors: [] },
    tc: { qdiscs: [], classes: [], filters: [], errors: [] },
    ipRules: [],
    dnsChaos: [],
    errors: [],
    spawns: 0,
    notes: [],
  };
}

/** Names in /proc/<pid>/net/ip_tables_names (one per line). */
export function parseTableNames(text: string): string[] {
  return text.split('\n').map((s) => s.trim()).filter((s) => /^[a-z_]{1,32}$/.test(s));
}

/** Interface names from /proc/<pid>/net/dev (skipping its two header lines). */
export function parseProcNetDev(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n').slice(2)) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const name = line.slice(0, i).trim();
    if (name) out.push(name);
  }
  return out;
}

/** `nft list tables` -> `family name` pairs. */
export function parseNftTables(text: string): { family: string; name: string }[] {
  const out: { family: string; name: string }[] = [];
  for (const line of text.split('\n')) {
    const m = /^table (\S+) (\S+)\s*$/.exec(line.trim());
    if (m) out.push({ family: m[1]!, name: m[2]! });
  }
  return out;
}

async function readSmall(path: string): Promise<string | null> {
  try {
    const buf = await readFile(path);
    return buf.subarray(0, MAX_PROC_FILE).toString('utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    throw err;
  }
}

async function inodeOf(path: string): Promise<number | null> {
  try {
    return (await stat(path)).ino;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return null;
    throw err;
  }
}

export async function readNetnsState(runner: NetnsRunner, target: ReadTarget, opts: ReadOptions = {}): Promise<NetnsState> {
  const state = emptyNetnsState();
  const notes = state.notes!;
  const errors = state.errors;
  const fail = (tool: string, err: unknown): void => {
    if (err instanceof NetnsCommandError) errors.push({ tool, reason: err.reason, message: err.message });
    else errors.push({ tool, reason: 'spawn', message: errorMessage(err) });
  };

  let netnsPath: string;
  try {
    netnsPath = validateNetnsPath(target.netnsPath);
  } catch (err) {
    errors.push({ tool: 'netns', reason: 'spawn', message: errorMessage(err) });
    return state;
  }
  let inode: number | null;
  try {
    inode = await inodeOf(netnsPath);
  } catch (err) {
    errors.push({ tool: 'netns', reason: 'spawn', message: `cannot stat ${netnsPath}: ${errorMessage(err)}` });
    return state;
  }
  if (inode === null) {
    errors.push({ tool: 'netns', reason: 'vanished', message: `${netnsPath} no longer exists` });
    return state;
  }

  // --- Cheap facts from /proc/<pid>/net, when the PID really is in this namespace.
  let legacy4: string[] | null = null;
  let legacy6: string[] | null = null;
  let devs: string[] | null = null;
  if (target.pid !== null) {
    try {
      const pid = validatePid('pid', target.pid);
      const procPid = posix.join(target.procRoot, String(pid));
      if ((await inodeOf(posix.join(procPid, 'ns', 'net'))) === inode) {
        const [v4, v6, dev] = await Promise.all([
          readSmall(posix.join(procPid, 'net', 'ip_tables_names')),
          readSmall(posix.join(procPid, 'net', 'ip6_tables_names')),
          readSmall(posix.join(procPid, 'net', 'dev')),
        ]);
        if (dev !== null) {
          // A missing *_tables_names file means the module is not loaded: no legacy table in any namespace.
          legacy4 = v4 === null ? [] : parseTableNames(v4);
          legacy6 = v6 === null ? [] : parseTableNames(v6);
          devs = parseProcNetDev(dev);
        }
      }
    } catch (err) {
      // Not fatal: without the /proc facts every tool simply runs.
      notes.push(`pid ${target.pid}: /proc facts unavailable (${errorMessage(err)}); reading every tool`);
    }
  }
  const exhaustive = opts.exhaustive === true;
  let spawns = 0;
  const runOpts = { onSpawn: () => void (spawns += 1), ...(opts.signal ? { signal: opts.signal } : {}) };
  const missing = missingTools.get(runner) ?? new Set<string>();
  missingTools.set(runner, missing);

  const dumps: IptablesDump[] = [];
  const save = async (tool: string, backend: IptablesBackend, family: IpFamily): Promise<void> => {
    try {
      const { stdout } = await runner.run(netnsPath, [tool, '-c'], runOpts);
      const dump = parseIptablesSave(stdout, backend, family);
      if (dump.tables.length > 0 || dump.errors.length > 0) dumps.push(dump);
    } catch (err) {
      fail(tool, err);
    }
  };

  // --- Phase 1: legacy saves, the nft probe and tc, all at once (the runner bounds concurrency).
  const phase1: Promise<void>[] = [];
  if (exhaustive || legacy4 === null || legacy4.length > 0) phase1.push(save('iptables-legacy-save', 'legacy', 'ipv4'));
  if (exhaustive || legacy6 === null || legacy6.length > 0) phase1.push(save('ip6tables-legacy-save', 'legacy', 'ipv6'));

  let nftFamilies: Set<string> | null = null; // null = unknown: run both nft saves
  const nftProbe = (async () => {
    if (exhaustive || missing.has('nft')) return;
    try {
      const { stdout } = await runner.run(netnsPath, ['nft', 'list', 'tables'], runOpts);
      const tables = parseNftTables(stdout);
      nftFamilies = new Set(tables.filter((t) => XTABLES_TABLES.has(t.name) && (t.family === 'ip' || t.family === 'ip6')).map((t) => t.family));
      const other = tables.filter((t) => !(XTABLES_TABLES.has(t.name) && (t.family === 'ip' || t.family === 'ip6')));
      if (other.length > 0) notes.push(`nf_tables tables not shown by iptables-nft-save: ${other.map((t) => `${t.family} ${t.name}`).join(', ')}`);
    } catch (err) {
      if (err instanceof NetnsCommandError && err.reason === 'spawn' && /failed to execute/.test(err.message)) {
        missing.add('nft');
        notes.push('nft is not installed: both iptables-nft-save tools run in every namespace');
      } else if (err instanceof NetnsCommandError && err.reason === 'vanished') {
        fail('nft', err);
        nftFamilies = new Set();
      } else {
        // Fall back to running both iptables-nft-save tools (they report their own errors).
        notes.push(`nft list tables failed (${errorMessage(err)}): both iptables-nft-save tools were run`);
      }
    }
  })();
  phase1.push(nftProbe);
  phase1.push(readTc(runner, netnsPath, devs, runOpts, exhaustive).then((r) => {
    state.tc = r.tc;
    for (const e of r.errors) errors.push(e);
  }));
  await Promise.all(phase1);

  // --- Phase 2: nft saves for the families that hold tables, then what depends on iptables.
  const phase2: Promise<void>[] = [];
  const fams = nftFamilies as Set<string> | null;
  if (exhaustive || fams === null || fams.has('ip')) phase2.push(save('iptables-nft-save', 'nft', 'ipv4'));
  if (exhaustive || fams === null || fams.has('ip6')) phase2.push(save('ip6tables-nft-save', 'nft', 'ipv6'));
  await Promise.all(phase2);

  dumps.sort((a, b) => order(a) - order(b));
  state.iptables = dumps;

  const anyTables = dumps.some((d) => d.tables.length > 0) || (legacy4?.length ?? 0) > 0 || (legacy6?.length ?? 0) > 0;
  const phase3: Promise<void>[] = [];
  if (exhaustive || anyTables || state.tc.filters.length > 0) {
    phase3.push((async () => {
      try {
        const { stdout } = await runner.run(netnsPath, ['ipset', 'save'], runOpts);
        state.ipsets = parseIpsetSave(stdout);
      } catch (err) {
        fail('ipset', err);
      }
    })());
  } else {
    notes.push('ipset not read: no iptables table and no tc filter in this namespace, so no ipset can match traffic');
  }
  const tproxyFamilies = new Set(dumps.filter(hasTproxyState).map((d) => d.family));
  if (exhaustive) tproxyFamilies.add('ipv4');
  for (const fam of tproxyFamilies) {
    const argv = fam === 'ipv6' ? ['ip', '-6', 'rule', 'show'] : ['ip', 'rule', 'show'];
    phase3.push((async () => {
      try {
        const { stdout } = await runner.run(netnsPath, argv, runOpts);
        for (const line of stdout.split('\n')) if (/\bfwmark\b/.test(line)) state.ipRules.push(line.trim());
      } catch (err) {
        fail('ip', err);
      }
    })());
  }
  phase3.push(checkDns(target, state));
  await Promise.all(phase3);

  // The namespace must be the same one at the end (a PID path can be reused by another process).
  try {
    const after = await inodeOf(netnsPath);
    if (after !== inode) {
      const message = after === null
        ? `${netnsPath} vanished during the read; what was read before is kept`
        : `${netnsPath} now names another namespace (inode ${inode} -> ${after}); the read was discarded`;
      if (after !== null) {
        const keep = state.errors;
        Object.assign(state, emptyNetnsState(), { errors: keep });
      }
      state.errors.push({ tool: 'netns', reason: 'vanished', message });
    }
  } catch (err) {
    state.errors.push({ tool: 'netns', reason: 'spawn', message: `cannot stat ${netnsPath}: ${errorMessage(err)}` });
  }
  state.spawns = spawns;
  return state;
}

function order(d: IptablesDump): number {
  return (d.backend === 'legacy' ? 0 : 2) + (d.family === 'ipv4' ? 0 : 1);
}

function hasTproxyState(d: IptablesDump): boolean {
  const mangle = d.tables.find((t) => t.name === 'mangle');
  if (!mangle) return false;
  return mangle.chains.some(
    (c) => c.name === 'DIVERT' || c.name.startsWith('CHAOS_PROXY_') || c.rules.some((r) => r.target === 'TPROXY'),
  );
}

async function readTc(
  runner: NetnsRunner,
  netnsPath: string,
  devs: string[] | null,
  runOpts: { signal?: AbortSignal; onSpawn: () => void },
  exhaustive: boolean,
): Promise<{ tc: TcDump; errors: StateError[] }> {
  const errors: StateError[] = [];
  const argv = ['tc', '-s', '-d', '-j', '-batch', '-'];
  const batch = async (names: string[]): Promise<TcDump | null> => {
    const { commands, input, rejected } = tcBatchCommands(names);
    if (rejected.length) errors.push({ tool: 'tc', reason: 'parse', message: `interface names refused for tc: ${rejected.map((r) => JSON.stringify(r)).join(', ')}` });
    try {
      const { stdout } = await runner.run(netnsPath, argv, { ...runOpts, input });
      return parseTcBatch(stdout, commands);
    } catch (err) {
      // tc stops a batch at the first failing command (an interface that vanished meanwhile): keep its output.
      if (err instanceof NetnsCommandError && err.reason === 'exit') {
        errors.push({ tool: 'tc', reason: 'exit', message: err.message });
        const partial = (err.cause as { stdout?: unknown } | undefined)?.stdout;
        return typeof partial === 'string' ? parseTcBatch(partial, commands) : null;
      }
      errors.push({ tool: 'tc', reason: err instanceof NetnsCommandError ? err.reason : 'spawn', message: errorMessage(err) });
      return null;
    }
  };
  const empty: TcDump = { qdiscs: [], classes: [], filters: [], errors: [] };
  if (devs !== null) return { tc: (await batch(devs)) ?? empty, errors };

  // No interface list: qdiscs first, then classes and filters only where a qdisc can have them.
  let qd: TcDump;
  try {
    const { stdout } = await runner.run(netnsPath, ['tc', '-s', '-d', '-j', 'qdisc', 'show'], runOpts);
    const r = parseTcQdiscs(stdout);
    qd = { qdiscs: r.qdiscs, classes: [], filters: [], errors: r.errors };
  } catch (err) {
    errors.push({ tool: 'tc', reason: err instanceof NetnsCommandError ? err.reason : 'spawn', message: errorMessage(err) });
    return { tc: empty, errors };
  }
  const interesting = [...new Set(qd.qdiscs.filter((q) => exhaustive || !TRIVIAL_QDISCS.has(q.kind) || !q.root).map((q) => q.interface))];
  if (interesting.length === 0) return { tc: qd, errors };
  const more = await batch(interesting);
  return { tc: more ?? qd, errors };
}

async function checkDns(target: ReadTarget, state: NetnsState): Promise<void> {
  for (const c of target.containerPids ?? []) {
    let pid: number;
    try {
      pid = validatePid(`container ${c.name}`, c.pid);
    } catch (err) {
      state.errors.push({ tool: 'dns', reason: 'spawn', message: errorMessage(err) });
      continue;
    }
    const path = posix.join(target.procRoot, String(pid), 'root', 'etc', 'resolv.conf.chaos.bak');
    try {
      await stat(path);
      state.dnsChaos.push({ container: c.name, pid });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') continue; // no marker: no DNSChaos in this container
      if (code === 'ESRCH') {
        state.errors.push({ tool: 'dns', reason: 'vanished', message: `container ${c.name} (pid ${pid}) exited` });
        continue;
      }
      state.errors.push({ tool: 'dns', reason: 'spawn', message: `cannot stat ${path}: ${code ?? errorMessage(err)}` });
    }
  }
}
