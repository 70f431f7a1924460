/**
 * Flags + environment -> one validated Config. The flag table below is the single source of truth:
 * it drives parsing, the CHAOS_AGENT_<FLAG> environment equivalents, validation and `--help`.
 * Nothing below agent/ reads process.env or argv: this object is passed in.
 */
import { DEFAULT_PORT, normaliseEndpoint, parseBool, parseBytes, parseDuration, parseInt10, parseListen } from './config-values.js';
import { UsageError } from './errors.js';
import { parsePodName } from './pod-name.js';

export { DEFAULT_PORT, normaliseEndpoint, parseBytes, parseDuration, parseListen };

export interface Config {
  command: string;
  /** Positional arguments after the command (e.g. NAMESPACE/POD for inspect). */
  args: string[];
  help: boolean;
  json: boolean;
  /** CRI endpoints (unix://...). Empty = discovery (unless dockerEndpoints is non-empty). */
  runtimeEndpoints: string[];
  dockerEndpoints: string[];
  hostRoot: string;
  procRoot: string;
  runtimeTimeoutMs: number;
  netnsConcurrency: number;
  commandTimeoutMs: number;
  maxOutputBytes: number;
  /** How namespaces are read: netlink in-process, nsenter + the tools, or auto (netlink, tools as fallback). */
  reader: 'auto' | 'netlink' | 'nsenter';
  /** Time budget of one namespace read, ms. */
  namespaceTimeoutMs: number;
  /** iptables rules exported per pod at most (series and JSON; chaos chains first). */
  maxRulesPerPod: number;
  all: boolean;
  netns: string | null;
  pid: number | null;
  listen: { host: string; port: number };
  intervalMs: number;
  debug: boolean;
  debugTokenFile: string | null;
  debugInsecure: boolean;
  compatMetrics: boolean;
  /** Collectors switched off (--no-collector-netns, --no-collector-stats, --no-collector-proc, --no-collector-bpm). */
  collectorNetns: boolean;
  collectorStats: boolean;
  collectorProc: boolean;
  collectorBpm: boolean;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  nsenterPath: string;
  /** Read Chaos Mesh's intent from the Kubernetes API: auto (when credentials exist), on (required), off. */
  kube: 'auto' | 'on' | 'off';
  /** Kubeconfig file; null = KUBECONFIG, in-cluster, ~/.kube/config. */
  kubeconfig: string | null;
  /** serve: how long an owner is seen absent / deleting / stopped before its entries are leftovers, ms (intent/lifecycle.ts). */
  intentOwnerGraceMs: number;
  /** serve: how long a PodNetworkChaos generation not yet applied excuses the differences, ms (intent/lifecycle.ts). */
  intentPendingLimitMs: number;
}

type Kind = 'string' | 'list' | 'bool' | 'duration' | 'int' | 'bytes';
interface FlagSpec {
  name: string;
  kind: Kind;
  key: keyof Config;
  help: string;
  /** Default, as shown in --help. */
  def: string;
  commands?: string[];
}

export const FLAGS: FlagSpec[] = [
  { name: 'runtime-endpoint', kind: 'list', key: 'runtimeEndpoints', def: '(discover)', help: 'CRI endpoint (unix://PATH); repeatable; replaces discovery. Env CONTAINER_RUNTIME_ENDPOINT is honoured too.' },
  { name: 'docker-endpoint', kind: 'list', key: 'dockerEndpoints', def: '(discover)', help: 'Docker Engine endpoint (unix://PATH); repeatable; replaces discovery. Env DOCKER_HOST is honoured too.' },
  { name: 'host-root', kind: 'string', key: 'hostRoot', def: '/', help: 'Where the host filesystem is mounted (runtime sockets and netns paths are looked up under it).' },
  { name: 'proc-root', kind: 'string', key: 'procRoot', def: '/proc', help: 'Where /proc/<pid> of the host PID namespace is found.' },
  { name: 'runtime-timeout', kind: 'duration', key: 'runtimeTimeoutMs', def: '2s', help: 'Deadline of every CRI/Docker call.' },
  { name: 'reader', kind: 'string', key: 'reader', def: 'auto', help: 'How network namespaces are read: netlink (in-process, worker threads), nsenter (nsenter + iptables-save, ipset, tc, ip), or auto (netlink; a namespace it cannot decode exactly, or a node where it cannot work, through the tools).' },
  { name: 'netns-concurrency', kind: 'int', key: 'netnsConcurrency', def: '2', help: 'Network namespace reads at once: tool sequences through the tools; over netlink, the most reader threads (one reads everything, a spare starts only while every running one is slow or stuck).' },
  { name: 'namespace-timeout', kind: 'duration', key: 'namespaceTimeoutMs', def: '5s', help: 'Time budget of one namespace read; a namespace over it is reported unread (verdict unknown), the others are still collected.' },
  { name: 'command-timeout', kind: 'duration', key: 'commandTimeoutMs', def: '2s', help: 'Timeout of one tool run by the tools reader (nsenter); cut to what is left of --namespace-timeout. The tool is killed after it.' },
  { name: 'max-output', kind: 'bytes', key: 'maxOutputBytes', def: '2MiB', help: 'Bytes kept per source of a namespace read (one netlink dump, or one tool\'s output); past it the source is cut where it is read and marked truncated.' },
  { name: 'max-rules-per-pod', kind: 'int', key: 'maxRulesPerPod', def: '2000', help: 'iptables rules exported per pod at most (chaos_daemon_iptables_* series and the JSON document), chaos chains first; the verdict still sees every rule read. chaos_daemon_pod_truncated{what="rules"} says when it cut.' },
  { name: 'json', kind: 'bool', key: 'json', def: 'false', help: 'Print JSON (runtimes, pods, inspect, diff).', commands: ['runtimes', 'pods', 'inspect', 'diff'] },
  { name: 'all', kind: 'bool', key: 'all', def: 'false', help: 'inspect: every pod on the node.', commands: ['inspect'] },
  { name: 'netns', kind: 'string', key: 'netns', def: '', help: 'inspect: a network namespace file (e.g. /var/run/netns/x).', commands: ['inspect'] },
  { name: 'pid', kind: 'int', key: 'pid', def: '', help: 'inspect: the network namespace of this PID.', commands: ['inspect'] },
  { name: 'listen', kind: 'string', key: 'listen', def: `0.0.0.0:${DEFAULT_PORT}`, help: 'serve: HOST:PORT of the HTTP server.', commands: ['serve'] },
  { name: 'interval', kind: 'duration', key: 'intervalMs', def: '15s', help: 'serve: time between background collections.', commands: ['serve'] },
  { name: 'debug', kind: 'bool', key: 'debug', def: 'true', help: 'serve: expose /debug/pods (rule text is sensitive: needs --debug-token-file or --debug-insecure, else 403).', commands: ['serve'] },
  { name: 'debug-token-file', kind: 'string', key: 'debugTokenFile', def: '', help: 'serve: require "Authorization: Bearer <token in this file>" on /debug/*; the file is re-read when it changes (missing or empty: /debug/* locked).', commands: ['serve'] },
  { name: 'debug-insecure', kind: 'bool', key: 'debugInsecure', def: 'false', help: 'serve: serve /debug/* without a token (anyone who reaches the port reads every pod\'s rules).', commands: ['serve'] },
  { name: 'compat-metrics', kind: 'bool', key: 'compatMetrics', def: 'true', help: "Emit Chaos Mesh's per-container chaos_daemon_iptables_*/ipset/tcs series (one copy per container)." },
  { name: 'collector-netns', kind: 'bool', key: 'collectorNetns', def: 'true', help: 'serve, metrics: read the pods\' network namespaces (--no-collector-netns: pods listed, verdict unknown).', commands: ['serve', 'metrics'] },
  { name: 'collector-stats', kind: 'bool', key: 'collectorStats', def: 'true', help: 'serve, metrics: container CPU and memory (chaos_daemon_container_*), read from each running container\'s cgroup under --host-root, from the runtime (CRI ListContainerStats) only when the cgroup cannot be read (Docker has no such fallback); a running container that gets no value from either has none (the stats collector fails, saying how many).', commands: ['serve', 'metrics'] },
  { name: 'collector-proc', kind: 'bool', key: 'collectorProc', def: 'true', help: 'serve, metrics: the /proc scan for chaos processes and mounts (io, stress, jvm, dns, tproxy); off also turns bpm off.', commands: ['serve', 'metrics'] },
  { name: 'collector-bpm', kind: 'bool', key: 'collectorBpm', def: 'true', help: "serve, metrics: chaos-daemon's background processes (chaos_daemon_bpm_*).", commands: ['serve', 'metrics'] },
  { name: 'log-level', kind: 'string', key: 'logLevel', def: 'info (serve), warn (others)', help: 'fatal|error|warn|info|debug|trace|silent' },
  { name: 'nsenter-path', kind: 'string', key: 'nsenterPath', def: 'nsenter', help: 'nsenter executable.' },
  { name: 'kube', kind: 'string', key: 'kube', def: 'auto', help: "Read Chaos Mesh's intent (Pod*Chaos, experiment records) from the Kubernetes API, read-only: auto = when in-cluster credentials or a kubeconfig exist, on = required, off = never." },
  { name: 'kubeconfig', kind: 'string', key: 'kubeconfig', def: '', help: 'Kubeconfig file for --kube (default: KUBECONFIG, then in-cluster, then ~/.kube/config).' },
  { name: 'intent-owner-grace', kind: 'duration', key: 'intentOwnerGraceMs', def: '30s', help: 'serve, with --kube: how long a NetworkChaos, HTTPChaos or IOChaos must be seen absent, being deleted or stopped before the kernel state of its PodNetworkChaos entries, PodHttpChaos rules or PodIOChaos actions is a leftover (entries with none: stale); at most 1h.', commands: ['serve'] },
  { name: 'intent-pending-limit', kind: 'duration', key: 'intentPendingLimitMs', def: '2m', help: 'serve, with --kube: how long a PodNetworkChaos generation chaos-daemon has not applied yet keeps its differences pending; past it they are drift again (missing, mismatch, leftover); at most 1h.', commands: ['serve'] },
  { name: 'help', kind: 'bool', key: 'help', def: 'false', help: 'Show this help.' },
];

export const COMMANDS: Record<string, string> = {
  runtimes: 'List every runtime endpoint tried: runtime, version, API version, up or the error.',
  pods: 'List pods of every reachable runtime with their PID and network namespace.',
  inspect: 'Show iptables, ipsets, tc and the chaos verdict: inspect NAMESPACE/POD... | --all | --netns PATH | --pid PID',
  metrics: 'Run one collection and print the Prometheus metrics on stdout.',
  serve: 'Run the exporter: /metrics, /healthz, /readyz, /debug/pods.',
  diff: "Chaos Mesh's intent and the kernel side by side for one pod, with owners and drift: diff NAMESPACE/POD",
};

export function envName(flag: string): string {
  return `CHAOS_AGENT_${flag.toUpperCase().replace(/-/g, '_')}`;
}

/** Linux PID_MAX_LIMIT (2^22); --netns-concurrency above 64 would only queue in the kernel. */
const INT_LIMITS: Record<string, number> = { pid: 4_194_304, 'netns-concurrency': 64 };
/** Durations with an upper bound, ms: the intent's clocks past an hour would hide drift for good. */
const DURATION_LIMITS: Record<string, { ms: number; text: string }> = {
  'intent-owner-grace': { ms: 3_600_000, text: '1h' },
  'intent-pending-limit': { ms: 3_600_000, text: '1h' },
};

function defaults(): Config {
  return {
    command: '',
    args: [],
    help: false,
    json: false,
    runtimeEndpoints: [],
    dockerEndpoints: [],
    hostRoot: '/',
    procRoot: '/proc',
    runtimeTimeoutMs: 2000,
    netnsConcurrency: 2,
    commandTimeoutMs: 2000,
    maxOutputBytes: 2 << 20,
    reader: 'auto',
    namespaceTimeoutMs: 5000,
    maxRulesPerPod: 2000,
    all: false,
    netns: null,
    pid: null,
    listen: { host: '0.0.0.0', port: DEFAULT_PORT },
    intervalMs: 15_000,
    debug: true,
    debugTokenFile: null,
    debugInsecure: false,
    compatMetrics: true,
    collectorNetns: true,
    collectorStats: true,
    collectorProc: true,
    collectorBpm: true,
    logLevel: 'warn',
    nsenterPath: 'nsenter',
    kube: 'auto',
    kubeconfig: null,
    // intent/lifecycle.ts DEFAULT_OWNER_GRACE_SECONDS, DEFAULT_PENDING_LIMIT_SECONDS (not imported: config loads first).
    intentOwnerGraceMs: 30_000,
    intentPendingLimitMs: 120_000,
  };
}

const READERS = ['auto', 'netlink', 'nsenter'];
const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function apply(cfg: Config, spec: FlagSpec, raw: string, seen: Set<string>): void {
  const c = cfg as unknown as Record<string, unknown>;
  switch (spec.kind) {
    case 'list': {
      const flag = spec.name;
      const values = raw.split(',').map((x) => x.trim()).filter(Boolean);
      const prev = seen.has(spec.name) ? (c[spec.key] as string[]) : [];
      c[spec.key] = [...prev, ...values.map((x) => normaliseEndpoint(`--${flag}`, x))];
      break;
    }
    case 'bool':
      c[spec.key] = parseBool(spec.name, raw);
      break;
    case 'duration': {
      const ms = parseDuration(spec.name, raw);
      const max = DURATION_LIMITS[spec.name];
      if (max !== undefined && ms > max.ms) throw new UsageError(`--${spec.name}: must be at most ${max.text}, got "${raw}"`);
      c[spec.key] = ms;
      break;
    }
    case 'bytes':
      c[spec.key] = parseBytes(spec.name, raw);
      break;
    case 'int':
      c[spec.key] = parseInt10(spec.name, raw, 1, INT_LIMITS[spec.name] ?? Number.MAX_SAFE_INTEGER);
      break;
    case 'string':
      if (spec.name === 'listen') c.listen = parseListen(raw);
      else if (spec.name === 'reader') {
        if (!READERS.includes(raw)) throw new UsageError(`--reader: expected one of ${READERS.join('|')}, got "${raw}"`);
        c.reader = raw;
      } else if (spec.name === 'log-level') {
        if (!LEVELS.includes(raw)) throw new UsageError(`--log-level: expected one of ${LEVELS.join('|')}, got "${raw}"`);
        c.logLevel = raw;
      } else if (spec.name === 'kube') {
        if (raw !== 'auto' && raw !== 'on' && raw !== 'off') throw new UsageError(`--kube: expected auto, on or off, got "${raw}"`);
        c.kube = raw;
      } else {
        if (raw === '') throw new UsageError(`--${spec.name}: needs a value`);
        if ((spec.name.endsWith('-root') || spec.name === 'netns') && !raw.startsWith('/'))
          throw new UsageError(`--${spec.name}: must be an absolute path, got "${raw}"`);
        c[spec.key] = raw;
      }
      break;
  }
  seen.add(spec.name);
}

/**
 * Parse argv (without node and script) and env into a Config. Precedence: flag > CHAOS_AGENT_* env >
 * CONTAINER_RUNTIME_ENDPOINT/DOCKER_HOST > default. Throws UsageError.
 */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = {}): Config {
  const cfg = defaults();
  const byName = new Map(FLAGS.map((f) => [f.name, f]));
  const fromFlags = new Set<string>();

  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (a === '-h') {
      cfg.help = true;
      continue;
    }
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    let name = a.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    let spec = byName.get(name);
    if (!spec && name.startsWith('no-') && byName.get(name.slice(3))?.kind === 'bool' && value === undefined) {
      spec = byName.get(name.slice(3))!;
      value = 'false';
    }
    if (!spec) throw new UsageError(`unknown flag --${name} (see --help)`);
    if (value === undefined) {
      if (spec.kind === 'bool') value = 'true';
      else {
        const next = argv[i + 1];
        if (next === undefined || next.startsWith('--')) throw new UsageError(`--${name}: needs a value`);
        value = next;
        i++;
      }
    }
    apply(cfg, spec, value, fromFlags);
  }

  cfg.command = positional[0] ?? '';
  cfg.args = positional.slice(1);
  if (cfg.command === 'serve' && !fromFlags.has('log-level')) cfg.logLevel = 'info';

  for (const spec of FLAGS) {
    if (fromFlags.has(spec.name) || spec.name === 'help') continue;
    const v = env[envName(spec.name)];
    if (v !== undefined && v !== '') {
      try {
        apply(cfg, spec, v, new Set());
      } catch (err) {
        throw new UsageError(`${envName(spec.name)}: ${(err as Error).message}`, { cause: err });
      }
    }
  }
  const explicit = fromFlags.has('runtime-endpoint') || fromFlags.has('docker-endpoint') ||
    env[envName('runtime-endpoint')] || env[envName('docker-endpoint')];
  if (!explicit) {
    // Named by the variable that carried the value: the user gave no flag.
    if (env.CONTAINER_RUNTIME_ENDPOINT) cfg.runtimeEndpoints = [normaliseEndpoint('CONTAINER_RUNTIME_ENDPOINT', env.CONTAINER_RUNTIME_ENDPOINT)];
    if (env.DOCKER_HOST) cfg.dockerEndpoints = [normaliseEndpoint('DOCKER_HOST', env.DOCKER_HOST)];
  }

  if (!cfg.help) {
    if (!cfg.command) throw new UsageError('missing command (see --help)');
    if (!(cfg.command in COMMANDS)) throw new UsageError(`unknown command "${cfg.command}" (see --help)`);
    for (const spec of FLAGS) {
      if (spec.commands && fromFlags.has(spec.name) && !spec.commands.includes(cfg.command))
        throw new UsageError(`--${spec.name} is only valid with: ${spec.commands.join(', ')}`);
    }
    if (cfg.command === 'inspect') {
      const modes = [cfg.args.length > 0, cfg.all, cfg.netns !== null, cfg.pid !== null].filter(Boolean).length;
      if (modes !== 1) throw new UsageError('inspect takes exactly one of: NAMESPACE/POD..., --all, --netns PATH, --pid PID');
      for (const a of cfg.args) checkPodArg('inspect', a);
    } else if (cfg.command === 'diff') {
      if (cfg.args.length !== 1) throw new UsageError('diff takes exactly one NAMESPACE/POD');
      checkPodArg('diff', cfg.args[0]!);
    } else if (cfg.args.length > 0) {
      throw new UsageError(`${cfg.command}: unexpected argument "${cfg.args[0]}"`);
    }
    if (cfg.debugInsecure && cfg.debugTokenFile !== null)
      throw new UsageError('--debug-insecure and --debug-token-file contradict each other: give one');
    if (cfg.debugInsecure && !cfg.debug) throw new UsageError('--debug-insecure with --debug=false: /debug/* is off, drop one');
  }
  return cfg;
}

/** A NAMESPACE/POD argument of inspect or diff (`/POD` or `-/POD` without a namespace: agent/pod-name.ts). */
function checkPodArg(command: string, a: string): void {
  try {
    parsePodName(a);
  } catch (err) {
    throw new UsageError(`${command}: ${(err as Error).message}`, { cause: err });
  }
}

export function helpText(): string {
  const lines = [
    'Usage: chaos-node-agent <command> [flags]',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([c, h]) => `  ${c.padEnd(10)}${h}`),
    '',
    'Flags (each also read from the environment as CHAOS_AGENT_<FLAG>, e.g. CHAOS_AGENT_HOST_ROOT):',
  ];
  for (const f of FLAGS) {
    const arg = f.kind === 'bool' ? '' : f.kind === 'list' ? ' URL' : f.kind === 'duration' ? ' DURATION' : f.kind === 'int' ? ' N' : f.kind === 'bytes' ? ' SIZE' : ' VALUE';
    lines.push(`  --${f.name}${arg}`.padEnd(34) + `${f.help} [default: ${f.def || 'none'}]`);
  }
  lines.push('', 'Exit codes: 0 success, 1 nothing reachable / nothing inspected, 2 usage error.');
  return lines.join('\n') + '\n';
}

/** The collectors the flags switch off (runtime always runs; kube follows --kube). */
export function disabledCollectors(cfg: Pick<Config, 'collectorNetns' | 'collectorStats' | 'collectorProc' | 'collectorBpm'>): Set<'netns' | 'stats' | 'proc' | 'bpm'> {
  const off = new Set<'netns' | 'stats' | 'proc' | 'bpm'>();
  if (!cfg.collectorNetns) off.add('netns');
  if (!cfg.collectorStats) off.add('stats');
  if (!cfg.collectorProc) off.add('proc');
  // bpm counts from the proc collector's scan: without it there is nothing to count.
  if (!cfg.collectorBpm || !cfg.collectorProc) off.add('bpm');
  return off;
}
