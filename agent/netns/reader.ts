/**
 * Reads one network namespace's iptables (both backends, IPv4 and IPv6), ipsets, tc state and fwmark ip rules
 * (DNSChaos is read from the containers' roots by agent/proc/dns.ts), normally in ONE nsenter process: the constant read script (read-script.ts) runs every tool
 * inside the namespace in turn and frames each one's output (runner.runScript, forked by a netns worker, not by
 * Node). Decisions that cost no process:
 * - /proc/<pid>/net/ip_tables_names and ip6_tables_names (readable from the host) list the legacy xtables
 *   tables instantiated in that namespace: the legacy *-save steps are only given when a table exists.
 * - tc reads qdiscs, classes and filters of every interface in ONE `tc -s -d -j -batch -`, whose batch the script
 *   builds inside the namespace from /proc/self/net/dev (step tc-auto, frame tc-batch); /proc/<pid>/net/dev, when
 *   readable, only tells which interface names tc cannot be asked about (reported as an error).
 * Decisions the script takes inside the namespace: `nft list tables` names the ip / ip6 tables, and
 * iptables-nft-save / ip6tables-nft-save only run for a family that holds an xtables-compatible table (nft not
 * installed: both run, and later reads skip the probe). `ipset save` runs when some iptables table exists (an
 * ipset changes no traffic without a rule that matches it): unconditionally when /proc showed a legacy table,
 * otherwise the script decides from /proc/self/net and the nft probe. When tables only show up in the nft-save
 * output (nft missing) or a tc filter exists without any table, ipset is read by a second read script afterwards, as
 * is `ip rule` when a mangle TPROXY / DIVERT rule exists (HTTPChaos); both go in one run when both are needed.
 * `exhaustive: true` reads everything (2 legacy + 2 nft + tc + ipset + ip rule) in the one process.
 * Without a usable PID (a bare netns file) both legacy steps run. Still one process.
 * `NetnsState.spawns` counts the nsenter processes this read started in the namespace (read-script runs): 1 for an
 * untouched pod or one with Chaos Mesh's partition / bandwidth state; 2 with HTTPChaos; 0 when nothing ran. They
 * are forked by the runner's workers; the processes Node itself spawned (workers, started once) are
 * `NetnsRunner.spawns` (and Snapshot.spawns), not attributed to any one read.
 */
import { readFile, stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { NetnsCommandError, errorMessage } from '../errors.js';
import { validatePid } from '../runtime/netns-resolve.js';
import type { NetnsRunner, RunOptions, ScriptFrame, ScriptResult } from './nsenter/exec.js';
import { validateNetnsPath } from './nsenter/exec.js';
import type { ScriptStep } from './nsenter/read-script.js';
import { parseIpsetSave } from './nsenter/ipset.js';
import { parseIptablesSave } from './nsenter/iptables.js';
import { parseTcBatch, tcBatchCommands, type TcBatchCommand } from './nsenter/tc.js';
import type { IpFamily, IptablesBackend, IptablesDump, NetnsState } from './state.js';

export interface ReadTarget {
  netnsPath: string;
  /** A process in the namespace (the sandbox's); lets the reader look at /proc/<pid>/net without a process. */
  pid: number | null;
  procRoot: string;
}

export interface ReadOptions {
  /** Read every tool, whatever the cheap checks say (2 legacy + 2 nft + tc + ipset + ip rule), in one process. */
  exhaustive?: boolean;
  signal?: AbortSignal;
}

const XTABLES_TABLES = new Set(['filter', 'nat', 'mangle', 'raw', 'security']);
const MAX_PROC_FILE = 1 << 20;

/** Per-runner memory of tools found missing in the image (asked once, not at every collection). */
const missingTools = new WeakMap<NetnsRunner, Set<string>>();

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

  // --- The one process: every step whose need /proc could not rule out.
  const legacyKnown = (legacy4?.length ?? 0) > 0 || (legacy6?.length ?? 0) > 0;
  const steps: ScriptStep[] = [];
  if (exhaustive || legacy4 === null || legacy4.length > 0) steps.push('legacy4');
  if (exhaustive || legacy6 === null || legacy6.length > 0) steps.push('legacy6');
  const probeNft = !exhaustive && !missing.has('nft');
  steps.push(probeNft ? 'nft' : 'nft-all');
  if (devs !== null) {
    // The script skips the same names when it builds the batch; say which.
    const { rejected } = tcBatchCommands(devs);
    if (rejected.length) errors.push({ tool: 'tc', reason: 'parse', message: `interface names refused for tc: ${rejected.map((r) => JSON.stringify(r)).join(', ')}` });
  }
  steps.push('tc-auto');
  steps.push(exhaustive || legacyKnown ? 'ipset' : 'ipset-if-tables');
  if (exhaustive) steps.push('iprule4');

  const first = await runSteps(runner, netnsPath, steps, runOpts, fail);

  const dumps: IptablesDump[] = [];
  const saves: [string, IptablesBackend, IpFamily][] = [
    ['iptables-legacy-save', 'legacy', 'ipv4'],
    ['ip6tables-legacy-save', 'legacy', 'ipv6'],
    ['iptables-nft-save', 'nft', 'ipv4'],
    ['ip6tables-nft-save', 'nft', 'ipv6'],
  ];
  for (const [tool, backend, family] of saves) {
    const f = first.frame(tool);
    if (!f) continue;
    if (f.error) {
      fail(tool, f.error);
      continue;
    }
    const dump = parseIptablesSave(f.stdout, backend, family);
    if (dump.tables.length > 0 || dump.errors.length > 0) dumps.push(dump);
  }
  dumps.sort((a, b) => order(a) - order(b));
  state.iptables = dumps;

  const nftFrame = probeNft ? first.frame('nft') : undefined;
  if (nftFrame) {
    const err = nftFrame.error;
    if (err === null) {
      const other = parseNftTables(nftFrame.stdout).filter((t) => !(XTABLES_TABLES.has(t.name) && (t.family === 'ip' || t.family === 'ip6')));
      if (other.length > 0) notes.push(`nf_tables tables not shown by iptables-nft-save: ${other.map((t) => `${t.family} ${t.name}`).join(', ')}`);
    } else if (err.reason === 'spawn' && /failed to execute/.test(err.message)) {
      missing.add('nft');
      notes.push('nft is not installed: both iptables-nft-save tools run in every namespace');
    } else if (err === first.error) {
      fail('nft', err); // the script stopped during the probe (timeout, abort): the saves never ran
    } else {
      // The script ran both iptables-nft-save tools (they report their own errors).
      notes.push(`nft list tables failed (${errorMessage(err)}): both iptables-nft-save tools were run`);
    }
  }

  const tcFrame = first.frame('tc');
  if (tcFrame) {
    const commands = parseTcBatchInput(first.frame('tc-batch')?.stdout ?? '');
    if (tcFrame.error === null) {
      state.tc = parseTcBatch(tcFrame.stdout, commands);
    } else {
      errors.push({ tool: 'tc', reason: tcFrame.error.reason, message: tcFrame.error.message });
      // tc stops a batch at the first failing command (an interface that vanished meanwhile): keep its output.
      if (tcFrame.error.reason === 'exit' && tcFrame.status !== null) state.tc = parseTcBatch(tcFrame.stdout, commands);
    }
  }

  const readIpset = (f: ScriptFrame): void => {
    if (f.error) fail('ipset', f.error);
    else state.ipsets = parseIpsetSave(f.stdout);
  };
  const ipRules = (f: ScriptFrame): void => {
    if (f.error) {
      fail('ip', f.error);
      return;
    }
    for (const line of f.stdout.split('\n')) if (/\bfwmark\b/.test(line)) state.ipRules.push(line.trim());
  };

  // --- Follow-up read, only when the first one showed a need it could not see coming.
  const more: ScriptStep[] = [];
  const ipsetFrame = first.frame('ipset');
  if (ipsetFrame) {
    readIpset(ipsetFrame);
  } else if (first.complete) {
    const anyTables = dumps.some((d) => d.tables.length > 0) || legacyKnown;
    if (anyTables || state.tc.filters.length > 0) more.push('ipset');
    else notes.push('ipset not read: no iptables table and no tc filter in this namespace, so no ipset can match traffic');
  }
  const iprule4 = first.frame('ip-rule');
  if (iprule4) ipRules(iprule4);
  const tproxyFamilies = new Set(dumps.filter(hasTproxyState).map((d) => d.family));
  if (tproxyFamilies.has('ipv4') && !iprule4) more.push('iprule4');
  if (tproxyFamilies.has('ipv6')) more.push('iprule6');
  if (more.length > 0 && first.spawned) {
    const second = await runSteps(runner, netnsPath, more, runOpts, fail);
    const f = second.frame('ipset');
    if (f) readIpset(f);
    for (const name of ['ip-rule', 'ip6-rule']) {
      const r = second.frame(name);
      if (r) ipRules(r);
    }
  }

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

interface StepsRun {
  /** A process was spawned (false: refused or failed before a spawn; the error is recorded). */
  spawned: boolean;
  /** Every step ran to its end. */
  complete: boolean;
  /** The script's own failure (also the `error` of the frame it stopped in, if any). */
  error: NetnsCommandError | null;
  frame(name: string): ScriptFrame | undefined;
}

/**
 * One runScript call. A failure of the script as a whole is recorded once: under the tool it stopped in (the
 * caller records that frame's error, as for any tool) or, outside a tool's frame, under its own tool (nsenter).
 */
async function runSteps(
  runner: NetnsRunner,
  netnsPath: string,
  steps: ScriptStep[],
  opts: RunOptions,
  fail: (tool: string, err: unknown) => void,
): Promise<StepsRun> {
  let r: ScriptResult;
  try {
    r = await runner.runScript(netnsPath, steps, opts);
  } catch (err) {
    fail(err instanceof NetnsCommandError ? err.tool : 'nsenter', err);
    return { spawned: false, complete: false, error: null, frame: () => undefined };
  }
  if (r.error !== null && !r.frames.some((f) => f.error === r.error && f.tool !== null)) fail(r.error.tool, r.error);
  return { spawned: true, complete: r.complete, error: r.error, frame: (name) => r.frames.find((f) => f.name === name) };
}

/** The batch the script built itself (frame tc-batch) back into the commands it holds, in order. */
export function parseTcBatchInput(text: string): TcBatchCommand[] {
  const out: TcBatchCommand[] = [];
  for (const line of text.split('\n')) {
    if (line === 'qdisc show') {
      out.push({ kind: 'qdisc', dev: '' });
      continue;
    }
    const m = /^(class|filter) show dev (\S+)$/.exec(line);
    if (m) out.push({ kind: m[1] as 'class' | 'filter', dev: m[2]! });
  }
  return out;
}
