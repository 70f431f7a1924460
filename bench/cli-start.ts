/**
 * `node dist/bench/cli-start.js`: how fast the one-shot CLI answers, Node's own start included (issue 9, item 3:
 * `pods` and `inspect NS/POD` under 300 ms wall on 10 pods). As root on this machine; dist/ must be built.
 *
 * 1. Starts a real containerd (test/helpers/containerd.ts) with --pods pods of 2 containers and puts Chaos-Mesh-style
 *    state (partition ipsets + chains, tbf) into each pod's namespace (bench/inject.ts), unless --endpoint names a
 *    running one (then `inspect` targets --inspect-pod, default bench/clistart-000).
 * 2. Runs `bin/chaos-node-agent.js pods` and `inspect NS/POD` against it, alternating, one warm-up each then --runs
 *    each: wall (spawn to exit) and CPU (user+sys of the CLI and every process it waited for: cutime+cstime of this
 *    process), median and p90, with the 1-minute load average around every run.
 * 3. With --profile (default on), one more run of each under `node --cpu-prof`: CPU by package (bench/cpu-profile.ts).
 * 4. --hold: after setup, print the endpoint and wait for SIGINT/SIGTERM (to measure by hand), then tear down.
 *
 * Flags: --runs N (default 15), --pods N (default 10), --endpoint URL, --inspect-pod NS/POD, --hold, --no-profile,
 * --json (print the results as JSON instead of tables), --label TEXT (printed with the results).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { AgentError, UsageError, errorMessage } from '../agent/errors.js';
import { startContainerd, type ContainerdHarness } from '../test/helpers/containerd.js';
import { mergeSummaries, summariseProfile, type ProfileSummary } from './cpu-profile.js';
import { chaosLayout, injectChaos } from './inject.js';
import { cpuSince, cpuSnapshot, mapLimit, round, shippedNodeFlags } from './measure.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = join(repoRoot, 'bin', 'chaos-node-agent.js');
const NAMESPACE = 'bench';
const RUN_TIMEOUT_MS = 30_000;
const MAX_OUTPUT = 4 << 20;

interface Args {
  runs: number;
  pods: number;
  endpoint: string | null;
  inspectPod: string;
  hold: boolean;
  profile: boolean;
  json: boolean;
  label: string;
}

function parseFlags(argv: string[]): Args {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        runs: { type: 'string', default: '15' },
        pods: { type: 'string', default: '10' },
        endpoint: { type: 'string' },
        'inspect-pod': { type: 'string', default: `${NAMESPACE}/clistart-000` },
        hold: { type: 'boolean', default: false },
        profile: { type: 'boolean', default: true },
        'no-profile': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        label: { type: 'string', default: '' },
      },
      strict: true,
    }));
  } catch (err) {
    throw new UsageError(errorMessage(err), { cause: err });
  }
  const int = (name: string, v: string, min: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name}: expected an integer >= ${min}, got ${JSON.stringify(v)}`);
    return n;
  };
  return {
    runs: int('runs', values.runs, 1),
    pods: int('pods', values.pods, 1),
    endpoint: values.endpoint ?? null,
    inspectPod: values['inspect-pod'],
    hold: values.hold,
    profile: values.profile && !values['no-profile'],
    json: values.json,
    label: values.label,
  };
}

const log = (msg: string): void => void process.stderr.write(`cli-start: ${msg}\n`);

interface RunResult {
  wallMs: number;
  cpuMs: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** One CLI run: argv[0] executed directly (the bin's shebang, as a user runs it) or through node with flags. */
function runOnce(argv: string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const cpu0 = cpuSnapshot();
    const t0 = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: RUN_TIMEOUT_MS, killSignal: 'SIGKILL' });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let bytes = 0;
    const take = (into: Buffer[]) => (b: Buffer): void => {
      bytes += b.length;
      if (bytes <= MAX_OUTPUT) into.push(b);
      else child.kill('SIGKILL');
    };
    child.stdout.on('data', take(out));
    child.stderr.on('data', take(err));
    child.on('error', (e) => reject(new AgentError('BENCH_RUN', `cannot run ${argv.join(' ')}: ${e.message}`, { cause: e })));
    child.on('close', (code) => {
      const wallMs = performance.now() - t0;
      resolvePromise({ wallMs, cpuMs: cpuSince(cpu0).childrenMs, code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

interface CommandStats {
  command: string;
  runs: number;
  wallMs: { median: number; p90: number; min: number; max: number };
  cpuMs: { median: number; p90: number; min: number; max: number };
  load: { min: number; median: number; max: number };
  profile: ProfileSummary | null;
}

function stats(samples: number[]): CommandStats['wallMs'] {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? NaN;
  const median = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return { median: round(median), p90: round(at(0.9)), min: round(s[0] ?? NaN), max: round(s[s.length - 1] ?? NaN) };
}

/** Check an answer is the real one (all pods listed / the pod inspected with its chaos state), so a fast failure never counts. */
function check(command: string, r: RunResult, pods: number): void {
  if (r.code !== 0) throw new AgentError('BENCH_RUN', `${command} exited ${r.code}: ${r.stderr.slice(0, 500)}`);
  if (command === 'pods') {
    const rows = r.stdout.split('\n').filter((l) => l.startsWith(`${NAMESPACE} `)).length;
    if (rows !== pods) throw new AgentError('BENCH_RUN', `pods listed ${rows} bench pods, expected ${pods}:\n${r.stdout.slice(0, 2000)}`);
  }
  if (command === 'inspect' && !/verdict: active  kinds: bandwidth, partition/.test(r.stdout)) throw new AgentError('BENCH_RUN', `inspect did not see the chaos state:\n${r.stdout.slice(0, 2000)}`);
}

async function profileRun(flags: string[], args: string[], env: NodeJS.ProcessEnv): Promise<ProfileSummary> {
  const dir = await mkdtemp(join(tmpdir(), 'cna-cliprof-'));
  try {
    const r = await runOnce([process.execPath, ...flags, '--cpu-prof', `--cpu-prof-dir=${dir}`, BIN, ...args], env);
    if (r.code !== 0) throw new AgentError('BENCH_RUN', `profiled ${args[0]} exited ${r.code}: ${r.stderr.slice(0, 500)}`);
    const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'));
    const summaries = await Promise.all(files.map(async (f) => summariseProfile(JSON.parse(await readFile(join(dir, f), 'utf8')))));
    return mergeSummaries(summaries);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function measure(endpoint: string, a: Pick<Args, 'runs' | 'inspectPod' | 'profile'>, pods: number): Promise<CommandStats[]> {
  const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: process.env.HOME ?? '/root' };
  const commands: [string, string[]][] = [
    ['pods', ['pods', '--runtime-endpoint', endpoint]],
    ['inspect', ['inspect', a.inspectPod, '--runtime-endpoint', endpoint]],
  ];
  const samples = new Map<string, { wall: number[]; cpu: number[]; load: number[] }>(commands.map(([c]) => [c, { wall: [], cpu: [], load: [] }]));
  for (let i = -1; i < a.runs; i++) {
    for (const [name, args] of i % 2 ? commands : [...commands].reverse()) {
      const load = loadavg()[0] ?? NaN;
      const r = await runOnce([BIN, ...args], env);
      check(name, r, pods);
      if (i < 0) continue; // warm-up: page cache, containerd's first answers
      const s = samples.get(name)!;
      s.wall.push(r.wallMs);
      s.cpu.push(r.cpuMs);
      s.load.push(load);
    }
  }
  const flags = await shippedNodeFlags(repoRoot);
  const out: CommandStats[] = [];
  for (const [name, args] of commands) {
    const s = samples.get(name)!;
    const l = stats(s.load);
    out.push({
      command: name === 'inspect' ? `inspect ${a.inspectPod}` : name,
      runs: s.wall.length,
      wallMs: stats(s.wall),
      cpuMs: stats(s.cpu),
      load: { min: round(l.min, 2), median: round(l.median, 2), max: round(l.max, 2) },
      profile: a.profile ? await profileRun(flags, args, env) : null,
    });
  }
  return out;
}

function renderStats(results: CommandStats[], label: string): string {
  const lines = [`CLI start${label ? ` (${label})` : ''}: wall and CPU (CLI + its children) per run, ms`, ''];
  lines.push('| command | runs | wall median | wall p90 | CPU median | CPU p90 | load 1m (min/median/max) |', '|---|---|---|---|---|---|---|');
  for (const r of results) {
    lines.push(`| ${r.command} | ${r.runs} | ${r.wallMs.median} | ${r.wallMs.p90} | ${r.cpuMs.median} | ${r.cpuMs.p90} | ${r.load.min}/${r.load.median}/${r.load.max} |`);
  }
  for (const r of results) {
    if (!r.profile) continue;
    lines.push('', `CPU profile of one \`${r.command}\` (node --cpu-prof, all threads; ms by package, the innermost package frame wins):`);
    lines.push(r.profile.buckets.filter((b) => b.ms >= 0.5).map((b) => `${b.name} ${b.ms}`).join(', '));
  }
  return `${lines.join('\n')}\n`;
}

async function setup(n: number): Promise<ContainerdHarness> {
  const h = await startContainerd({ name: 'clistart' });
  try {
    log(`containerd pid ${h.pid} at ${h.endpoint}; creating ${n} pods`);
    const made = await mapLimit(Array.from({ length: n }, (_, i) => i), 4, (i) =>
      h.runPod({ name: `clistart-${String(i).padStart(3, '0')}`, namespace: NAMESPACE, containers: ['app', 'sidecar'] }));
    const failed = made.find((m) => m.status === 'rejected');
    if (failed) throw new AgentError('BENCH_SETUP', `a pod failed to start: ${errorMessage((failed as PromiseRejectedResult).reason)}`);
    const layout = chaosLayout();
    const injected = await mapLimit(made.map((m) => (m as PromiseFulfilledResult<{ netnsPath: string }>).value), 4, (p) => injectChaos(p.netnsPath, layout));
    const bad = injected.find((m) => m.status === 'rejected');
    if (bad) throw new AgentError('BENCH_SETUP', `chaos injection failed: ${errorMessage((bad as PromiseRejectedResult).reason)}`);
    return h;
  } catch (err) {
    await h.stop().catch((e: unknown) => log(`teardown after a failed setup: ${errorMessage(e)}`));
    throw err;
  }
}

async function main(argv: string[]): Promise<number> {
  let a: Args;
  try {
    a = parseFlags(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      log(err.message);
      return 2;
    }
    throw err;
  }
  if (process.getuid?.() !== 0) throw new AgentError('BENCH_PREFLIGHT', 'needs root (containerd, namespaces)');
  let harness: ContainerdHarness | null = null;
  let stopping: Promise<void> | null = null;
  const teardown = (): Promise<void> => (stopping ??= harness ? harness.stop() : Promise.resolve());
  const onSignal = (sig: NodeJS.Signals): void => {
    log(`${sig}: tearing down`);
    teardown().then(() => process.exit(a.hold ? 0 : 130), (err: unknown) => {
      log(`teardown failed: ${errorMessage(err)}`);
      process.exit(1);
    });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    let endpoint = a.endpoint;
    if (endpoint === null) {
      harness = await setup(a.pods);
      endpoint = harness.endpoint;
    }
    if (a.hold) {
      log(`holding: --endpoint ${endpoint} --inspect-pod ${NAMESPACE}/clistart-000 (SIGINT to tear down)`);
      await new Promise<never>(() => undefined);
    }
    log(`measuring ${a.runs} runs each; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    const results = await measure(endpoint, a, a.pods);
    process.stdout.write(a.json ? `${JSON.stringify({ label: a.label, loadavg: loadavg(), results }, null, 2)}\n` : renderStats(results, a.label));
    return 0;
  } finally {
    await teardown();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    log(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exitCode = 1;
  },
);
