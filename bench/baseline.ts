/**
 * chaos-daemon's metrics collection, reproduced for comparison (chaos-mesh/chaos-mesh pkg/metrics/chaos-daemon.go
 * `collectNetworkMetrics`, pkg/metrics/utils/{iptables,ipset,tc}.go, pkg/bpm/build_linux.go,
 * pkg/chaosdaemon/crclients/containerd/client.go). At every scrape, synchronously:
 * 1. list the containers (containerd: Containers filtered on io.cri-containerd.kind=container);
 * 2. for each container IN TURN: its PID (LoadContainer + Task) and its labels (LoadContainer + Labels), then
 *    `iptables-save -c`, `ipset save -o xml` and `tc qdisc` entered into /proc/<pid>/ns/net, one after the other,
 *    stdout and stderr combined (CombinedOutput), each parsed minimally: iptables-save into tables/chains/rules
 *    with counters (retailnext/iptables_exporter's ParseIptablesSave, one bad line fails the parse), the ipset
 *    XML into sets and members (members summed), tc's lines counted;
 * 3. fresh gauges (Reset) chaos_daemon_iptables_packets / _packet_bytes per rule, chaos_daemon_ipset_members and
 *    chaos_daemon_tcs per container, rendered in the Prometheus text format.
 * Differences, all in the baseline's favour or neutral: the runtime is asked through CRI (ListContainers, then
 * two ContainerStatus calls per container for the PID and the labels: 2 requests where containerd's native client
 * makes 4); the image's nsexec is replaced by nsenter (same setns + exec, one process), spawned with
 * node:child_process (the cheapest spawn Node has); `iptables-save` is
 * `iptables-legacy-save` (what chaos-daemon's image links it to); every child gets a timeout and an output cap
 * (chaos-daemon has none: a hung tool hangs the scrape).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Gauge, Registry } from 'prom-client';
import { AgentError, errorMessage } from '../agent/errors.js';
import { CriClient } from '../agent/runtime/cri-client.js';
import { parseContainerInfo } from '../agent/runtime/cri-info.js';
import { validateId, validatePid } from '../agent/runtime/netns-resolve.js';

const CHILD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** What chaos-daemon runs in each container's namespace, in this order. */
const TOOLS: readonly string[][] = [['iptables-legacy-save', '-c'], ['ipset', 'save', '-o', 'xml'], ['tc', 'qdisc']];

/**
 * $1 = end marker, then one PID per container. Each tool's stdout+stderr (CombinedOutput) is followed by
 * "\n<marker> <exit status>\n" (printf is a builtin: no extra process).
 */
const SH_SCRIPT = [
  'm=$1; shift',
  'for p do',
  ...TOOLS.map((t) => `  nsenter --net=/proc/"$p"/ns/net -- ${t.join(' ')} 2>&1; printf '\\n%s %s\\n' "$m" "$?"`),
  'done',
].join('\n');

function unwrap(r: string | Error): string {
  if (r instanceof Error) throw r;
  return r;
}

export interface BaselineOptions {
  endpoint: string;
  socketPath: string;
  runtimeTimeoutMs?: number;
  commandTimeoutMs?: number;
  maxOutputBytes?: number;
  /** Who forks the tools: a small sh (Go-like cost, default) or this Node process (one child_process.spawn each). */
  spawner?: 'sh' | 'node';
}

export interface BaselineResult {
  containers: number;
  /** Processes spawned (3 per running container). */
  spawns: number;
  /** Runtime requests (CRI) made. */
  runtimeCalls: number;
  /** Rules parsed over all containers (each pod's rules counted once per container, as chaos-daemon does). */
  rules: number;
  ipsetMembers: number;
  tcLines: number;
  /** Samples and bytes of the rendered metrics. */
  series: number;
  bytes: number;
  /** Failures the collector logged and skipped (chaos-daemon logs and continues). */
  errors: string[];
}

// ---------------------------------------------------------------------------------------------------------------
// Minimal parsers, as chaos-daemon's dependencies do it

export interface SaveRule {
  rule: string;
  packets: number;
  bytes: number;
}
export interface SaveChain {
  policy: string;
  packets: number;
  bytes: number;
  rules: SaveRule[];
}
/** table -> chain -> chain (iptables_exporter's Tables shape). */
export type SaveTables = Map<string, Map<string, SaveChain>>;

const COUNTERS = /^\[(\d+):(\d+)\]$/;

/** iptables_exporter ParseIptablesSave: `*table`, `:CHAIN POLICY [p:b]`, `[p:b] -A CHAIN rule`, COMMIT; anything else is an error. */
export function parseIptablesSaveMinimal(text: string): SaveTables {
  const tables: SaveTables = new Map();
  let table: Map<string, SaveChain> | null = null;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fail = (why: string): never => {
      throw new AgentError('BENCH_PARSE', `iptables-save line ${i + 1}: ${why}: ${JSON.stringify(line.slice(0, 120))}`);
    };
    if (line.startsWith('*')) {
      table = new Map();
      tables.set(line.slice(1), table);
    } else if (line === 'COMMIT') {
      table = null;
    } else if (line.startsWith(':')) {
      if (!table) fail('chain outside a table');
      const [name, policy, counters] = line.slice(1).split(' ');
      const m = COUNTERS.exec(counters ?? '');
      if (!name || !policy || !m) fail('bad chain line');
      table!.set(name!, { policy: policy!, packets: Number(m![1]), bytes: Number(m![2]), rules: [] });
    } else if (line.startsWith('[')) {
      if (!table) fail('rule outside a table');
      const sp = line.indexOf(' ');
      const m = COUNTERS.exec(line.slice(0, sp));
      const rest = line.slice(sp + 1);
      if (!m || !rest.startsWith('-A ')) fail('bad rule line');
      const sp2 = rest.indexOf(' ', 3);
      const chainName = sp2 < 0 ? rest.slice(3) : rest.slice(3, sp2);
      const chain = table!.get(chainName);
      if (!chain) fail(`rule for unknown chain ${chainName}`);
      chain!.rules.push({ rule: sp2 < 0 ? '' : rest.slice(sp2 + 1), packets: Number(m![1]), bytes: Number(m![2]) });
    } else {
      fail('unexpected line');
    }
  }
  return tables;
}

/** romana/ipset's XML shape, reduced to what chaos-daemon reads: member count per set. */
export function countIpsetXmlMembers(xml: string): number {
  if (!/<ipsets>/.test(xml) && xml.trim() !== '') throw new AgentError('BENCH_PARSE', 'ipset save -o xml: no <ipsets> element');
  let members = 0;
  for (const set of xml.matchAll(/<ipset name="[^"]*">([\s\S]*?)<\/ipset>/g)) {
    members += (set[1]!.match(/<member>/g) ?? []).length;
  }
  return members;
}

/** bufio.Scanner line count. */
export function countLines(text: string): number {
  if (text === '') return 0;
  return text.endsWith('\n') ? text.split('\n').length - 1 : text.split('\n').length;
}

// ---------------------------------------------------------------------------------------------------------------

export class ChaosDaemonBaseline {
  private readonly cri: CriClient;
  private readonly commandTimeoutMs: number;
  private readonly maxOutputBytes: number;
  readonly spawner: 'sh' | 'node';

  constructor(opts: BaselineOptions) {
    this.spawner = opts.spawner ?? 'sh';
    this.cri = new CriClient({ url: opts.endpoint, socketPath: opts.socketPath, timeoutMs: opts.runtimeTimeoutMs ?? 10_000 });
    this.commandTimeoutMs = opts.commandTimeoutMs ?? 10_000;
    this.maxOutputBytes = opts.maxOutputBytes ?? 16 << 20;
  }

  get requestCount(): number {
    return this.cri.requestCount;
  }

  /**
   * exec.CommandContext(...).CombinedOutput(): one process, stdout and stderr into one buffer, wait for exit.
   * node:child_process directly (execa costs ~3x more CPU per spawn in the parent, which chaos-daemon's Go
   * os/exec does not pay): the baseline gets the cheapest spawn Node has.
   */
  private nsexec(pid: number, argv: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = spawn('nsenter', [`--net=/proc/${pid}/ns/net`, '--', ...argv], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { PATH: CHILD_PATH },
        timeout: this.commandTimeoutMs,
        killSignal: 'SIGKILL',
      });
      const chunks: Buffer[] = [];
      let size = 0;
      let overflow = false;
      const onData = (c: Buffer): void => {
        size += c.length;
        if (size > this.maxOutputBytes) {
          overflow = true;
          child.kill('SIGKILL');
        } else chunks.push(c);
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('error', (err) => reject(new AgentError('BENCH_BASELINE', `${argv[0]} in pid ${pid}: ${err.message}`, { cause: err })));
      child.once('close', (code, signal) => {
        const out = Buffer.concat(chunks).toString('utf8');
        if (code === 0 && !overflow) resolve(out);
        else reject(new AgentError('BENCH_BASELINE', `${argv.join(' ')} in pid ${pid}: ${overflow ? 'output too large' : `exit ${code ?? signal}`}: ${out.trim().slice(0, 200)}`));
      });
    });
  }

  /** Node spawner: one child per tool, sequentially. */
  private async runAllFromNode(pids: number[]): Promise<(string | Error)[][]> {
    const out: (string | Error)[][] = [];
    for (const pid of pids) {
      const row: (string | Error)[] = [];
      for (const tool of TOOLS) row.push(await this.nsexec(pid, tool).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err)))));
      out.push(row);
    }
    return out;
  }

  /**
   * Go-like spawner: ONE small `sh` runs every tool in turn (a constant script; the PIDs, already validated
   * integers, and a random end marker are positional arguments, never part of the script text). Forking from a
   * ~1 MB shell costs what Go's vfork-based os/exec costs, where forking from this ~100 MB Node process costs
   * several ms per child (page tables are copied: nodejs/node#14917). Bounded by one overall timeout and an
   * output cap.
   */
  private runAllInSh(pids: number[]): Promise<(string | Error)[][]> {
    if (pids.length === 0) return Promise.resolve([]);
    const marker = `@@cna-end-${randomBytes(8).toString('hex')}`;
    const timeoutMs = this.commandTimeoutMs * Math.max(1, pids.length);
    return new Promise((resolve, reject) => {
      const child = spawn('/bin/sh', ['-c', SH_SCRIPT, 'sh', marker, ...pids.map(String)], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { PATH: CHILD_PATH },
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
      });
      const chunks: Buffer[] = [];
      const errChunks: Buffer[] = [];
      let size = 0;
      let overflow = false;
      const limit = this.maxOutputBytes * Math.max(1, pids.length);
      child.stdout.on('data', (c: Buffer) => {
        size += c.length;
        if (size > limit) {
          overflow = true;
          child.kill('SIGKILL');
        } else chunks.push(c);
      });
      child.stderr.on('data', (c: Buffer) => {
        if (errChunks.length < 64) errChunks.push(c);
      });
      child.once('error', (err) => reject(new AgentError('BENCH_BASELINE', `sh: ${err.message}`, { cause: err })));
      child.once('close', (code, signal) => {
        if (code !== 0 || overflow) {
          reject(new AgentError('BENCH_BASELINE', `sh running the tools: ${overflow ? 'output too large' : `exit ${code ?? signal}`}: ${Buffer.concat(errChunks).toString('utf8').slice(0, 300)}`));
          return;
        }
        const text = Buffer.concat(chunks).toString('utf8');
        const parts = text.split(new RegExp(`\\n${marker} (\\d+)\\n`));
        // parts: out0, status0, out1, status1, ..., trailing ''
        const results: (string | Error)[] = [];
        for (let i = 0; i + 1 < parts.length; i += 2) {
          const status = Number(parts[i + 1]);
          results.push(status === 0 ? parts[i]! : new AgentError('BENCH_BASELINE', `exit ${status}: ${parts[i]!.trim().slice(0, 200)}`));
        }
        if (results.length !== pids.length * TOOLS.length) {
          reject(new AgentError('BENCH_BASELINE', `sh printed ${results.length} tool results, expected ${pids.length * TOOLS.length}`));
          return;
        }
        resolve(pids.map((_, k) => results.slice(k * TOOLS.length, (k + 1) * TOOLS.length)));
      });
    });
  }

  /** One scrape's worth of collection, as chaos-daemon does it. Logs-and-continues like the original. */
  async collect(): Promise<BaselineResult> {
    const calls0 = this.cri.requestCount;
    const res: BaselineResult = { containers: 0, spawns: 0, runtimeCalls: 0, rules: 0, ipsetMembers: 0, tcLines: 0, series: 0, bytes: 0, errors: [] };
    const registry = new Registry();
    const ruleLabels = ['namespace', 'pod', 'container', 'table', 'chain', 'policy', 'rule'] as const;
    const ctrLabels = ['namespace', 'pod', 'container'] as const;
    const packets = new Gauge({ name: 'chaos_daemon_iptables_packets', help: 'Total number of iptables packets', labelNames: ruleLabels, registers: [registry] });
    const bytes = new Gauge({ name: 'chaos_daemon_iptables_packet_bytes', help: 'Total bytes of iptables packets', labelNames: ruleLabels, registers: [registry] });
    const members = new Gauge({ name: 'chaos_daemon_ipset_members', help: 'Total number of ipset members', labelNames: ctrLabels, registers: [registry] });
    const tcs = new Gauge({ name: 'chaos_daemon_tcs', help: 'Total number of tc rules', labelNames: ctrLabels, registers: [registry] });

    let ids: string[];
    try {
      const { containers } = await this.cri.call('ListContainers', {});
      ids = containers.map((c) => c.id);
    } catch (err) {
      res.errors.push(`fail to list all container process IDs: ${errorMessage(err)}`);
      res.runtimeCalls = this.cri.requestCount - calls0;
      return res;
    }

    // Runtime calls per container (PID, then labels), then the three tools per container, in turn.
    const targets: { pid: number; labels: { namespace: string; pod: string; container: string } }[] = [];
    for (const rawId of ids) {
      try {
        const id = validateId('container', rawId);
        const st = await this.cri.call('ContainerStatus', { container_id: id, verbose: true });
        const pid = validatePid(`container ${id}`, parseContainerInfo(st.info).pid);
        const lb = await this.cri.call('ContainerStatus', { container_id: id });
        const labels = lb.status?.labels ?? {};
        targets.push({
          pid,
          labels: {
            namespace: labels['io.kubernetes.pod.namespace'] ?? '',
            pod: labels['io.kubernetes.pod.name'] ?? '',
            container: labels['io.kubernetes.container.name'] ?? '',
          },
        });
      } catch (err) {
        res.errors.push(`fail to get pid or labels of ${rawId}: ${errorMessage(err)}`);
      }
    }
    const outputs = this.spawner === 'sh' ? await this.runAllInSh(targets.map((t) => t.pid)) : await this.runAllFromNode(targets.map((t) => t.pid));
    res.spawns = targets.length * TOOLS.length + (this.spawner === 'sh' ? 1 : 0);

    targets.forEach(({ labels: l }, i) => {
      res.containers += 1;
      const [ipt, ipset, tc] = outputs[i]!;
      try {
        const tables = parseIptablesSaveMinimal(unwrap(ipt!));
        for (const [table, chains] of tables) {
          for (const [chain, c] of chains) {
            for (const r of c.rules) {
              res.rules += 1;
              const labelsRule = { ...l, table, chain, policy: c.policy, rule: r.rule };
              packets.set(labelsRule, r.packets);
              bytes.set(labelsRule, r.bytes);
            }
          }
        }
      } catch (err) {
        res.errors.push(`fail to collect iptables metrics: ${errorMessage(err)}`);
      }
      let n = 0;
      try {
        n = countIpsetXmlMembers(unwrap(ipset!));
      } catch (err) {
        res.errors.push(`fail to collect ipset member metric: ${errorMessage(err)}`);
      }
      res.ipsetMembers += n;
      members.set(l, n);
      let lines = 0;
      try {
        lines = countLines(unwrap(tc!));
      } catch (err) {
        res.errors.push(`fail to collect tc rules metric: ${errorMessage(err)}`);
      }
      res.tcLines += lines;
      tcs.set(l, lines);
    });

    const text = await registry.metrics();
    res.bytes = Buffer.byteLength(text);
    res.series = text.split('\n').filter((line) => line !== '' && !line.startsWith('#')).length;
    res.runtimeCalls = this.cri.requestCount - calls0;
    return res;
  }

  close(): void {
    this.cri.close();
  }
}
