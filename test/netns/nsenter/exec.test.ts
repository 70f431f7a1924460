import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { NetnsRunner, validateNetnsPath, type CommandEvent } from '../../../agent/netns/nsenter/exec.js';
import type { ScriptStep } from '../../../agent/netns/nsenter/read-script.js';
import { NetnsCommandError, ValidationError } from '../../../agent/errors.js';
import { describeIntegration } from '../../helpers/env.js';
import { createNetns, destroyAll, pidsInNetns, type TestNetns } from '../../helpers/netns.js';
import { getPriority } from 'node:os';
import { WORKER_NICENESS } from '../../../agent/netns/nsenter/worker.js';

/** Every runner a test made: killAll() after each test, so no netns worker outlives it. */
const made: NetnsRunner[] = [];
function runner(over: Partial<ConstructorParameters<typeof NetnsRunner>[0]> = {}) {
  const r = new NetnsRunner({ nsenterPath: 'nsenter', concurrency: 4, timeoutMs: 5000, maxOutputBytes: 1 << 20, ...over });
  made.push(r);
  return r;
}
afterEach(() => {
  for (const r of made.splice(0)) r.killAll();
});

/** Alive and not a zombie. */
function alive(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false; // gone
    throw err;
  }
  return !/^\d+ \(.*\) [ZX] /s.test(stat);
}

async function waitFor(cond: () => boolean | Promise<boolean>, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((res) => setTimeout(res, 20));
  }
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describeIntegration('NetnsRunner (real nsenter into a real netns)', { root: true, commands: ['nsenter', 'ip', 'iptables-legacy'] }, () => {
  let ns: TestNetns;
  let holder: number;

  beforeAll(async () => {
    ns = await createNetns('h4x');
    await ns.addPodInterface({ addr: '10.251.0.2/24' });
    holder = await ns.startHolder();
  });
  afterAll(async () => {
    await destroyAll();
  });

  it('runs a tool inside the namespace and returns its stdout', async () => {
    const r = runner();
    const { stdout, stderr } = await r.run(ns.path, ['ip', '-o', 'addr', 'show', 'dev', 'eth0']);
    expect(stdout).toContain('inet 10.251.0.2/24');
    expect(stderr).toBe('');
    expect(r.spawns).toBe(1);
    // The same through /proc/<pid>/ns/net, as production does for pods.
    const again = await r.run(`/proc/${holder}/ns/net`, ['ip', '-o', 'addr', 'show', 'dev', 'eth0']);
    expect(again.stdout).toBe(stdout);
    expect(r.spawns).toBe(2);
  });

  it('passes input on stdin (tc -batch -)', async () => {
    const r = runner();
    const { stdout } = await r.run(ns.path, ['tc', '-j', '-batch', '-'], { input: 'qdisc show dev lo\nqdisc show dev eth0\n' });
    const arrays = stdout.trim().split('\n').map((l) => JSON.parse(l) as { kind: string }[]);
    expect(arrays).toHaveLength(2);
    expect(arrays[0]![0]!.kind).toBe('noqueue');
  });

  it('a non-zero exit is reason "exit" and keeps stderr', async () => {
    const events: { tool: string; ok: boolean; reason?: string }[] = [];
    const r = runner({ onCommand: (e) => events.push(e) });
    const err = await rejection(r.run(ns.path, ['ip', 'link', 'show', 'dev', 'nosuchdev0']));
    expect(err).toBeInstanceOf(NetnsCommandError);
    const e = err as NetnsCommandError;
    expect(e.reason).toBe('exit');
    expect(e.tool).toBe('ip');
    expect(e.stderr).toBe('Device "nosuchdev0" does not exist.');
    expect(e.message).toBe('ip: exit status 1: Device "nosuchdev0" does not exist.');
    expect(events).toEqual([{ tool: 'ip', seconds: expect.any(Number), ok: false, reason: 'exit' }]);
  });

  it('the timeout kills the child: no process left in the namespace', async () => {
    const r = runner({ timeoutMs: 300, killGraceMs: 200 });
    const t0 = Date.now();
    // `ip monitor` never exits on its own.
    const err = (await rejection(r.run(ns.path, ['ip', 'monitor', 'link']))) as NetnsCommandError;
    expect(err).toBeInstanceOf(NetnsCommandError);
    expect(err.reason).toBe('timeout');
    expect(err.message).toBe('ip: killed after 300 ms');
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(await pidsInNetns(ns.path)).toEqual([holder]);
    expect(r.active).toBe(0);
  });

  it('the output cap stops the child with reason "output_limit"', async () => {
    // 400 rules in a legacy table: iptables-legacy-save prints far more than 2 KiB.
    const rules = ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':H4BIG - [0:0]'];
    for (let i = 0; i < 400; i++) rules.push(`-A H4BIG -s 10.9.${i >> 8}.${i & 255}/32 -m comment --comment "rule number ${i}" -j ACCEPT`);
    rules.push('COMMIT', '');
    await ns.exec(['iptables-legacy-restore'], { input: rules.join('\n') });
    const r = runner({ maxOutputBytes: 2048 });
    const err = (await rejection(r.run(ns.path, ['iptables-legacy-save', '-c']))) as NetnsCommandError;
    expect(err.reason).toBe('output_limit');
    expect(err.message).toBe('iptables-legacy-save: output larger than 2048 bytes; child killed');
    // With room, the same command succeeds.
    const ok = await runner().run(ns.path, ['iptables-legacy-save', '-c', '-t', 'filter']);
    expect(ok.stdout.split('\n').filter((l) => l.startsWith('[0:0] -A H4BIG '))).toHaveLength(400);
    await ns.exec(['iptables-legacy', '-F', 'H4BIG']);
    await ns.exec(['iptables-legacy', '-X', 'H4BIG']);
    expect(await pidsInNetns(ns.path)).toEqual([holder]);
  });

  it('never runs more children than the concurrency bound', async () => {
    const r = runner({ concurrency: 2, timeoutMs: 400, killGraceMs: 100 });
    let maxSeen = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const n = (await pidsInNetns(ns.path)).filter((p) => p !== holder).length;
        maxSeen = Math.max(maxSeen, n);
        await new Promise((res) => setTimeout(res, 20));
      }
    })();
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => r.run(ns.path, ['ip', 'monitor', 'link'])));
    sampling = false;
    await sampler;
    expect(results.map((x) => x.status)).toEqual(Array(6).fill('rejected'));
    expect(r.maxActive).toBe(2);
    expect(maxSeen).toBe(2);
    expect(r.spawns).toBe(6);
  });

  it('killAll kills running children and rejects queued work', async () => {
    const r = runner({ concurrency: 1, timeoutMs: 20_000 });
    const first = rejection(r.run(ns.path, ['ip', 'monitor', 'link']));
    const second = rejection(r.run(ns.path, ['ip', 'monitor', 'link']));
    await new Promise((res) => setTimeout(res, 200));
    expect(r.active).toBe(1);
    expect(r.queued).toBe(1);
    r.killAll();
    const [e1, e2] = (await Promise.all([first, second])) as NetnsCommandError[];
    expect(e2!.message).toBe('nsenter: not started: the runner was stopped');
    expect(e1!.reason).toBe('spawn');
    expect(e1!.message).toBe('ip: killed by SIGKILL: the runner was stopped');
    expect(r.spawns).toBe(1);
    expect(await pidsInNetns(ns.path)).toEqual([holder]);
    await expect(r.run(ns.path, ['ip', 'link'])).rejects.toThrow('not started: the runner was stopped');
  });

  it('an aborted signal kills the child', async () => {
    const r = runner({ timeoutMs: 20_000 });
    const ac = new AbortController();
    const p = rejection(r.run(ns.path, ['ip', 'monitor', 'link'], { signal: ac.signal }));
    await new Promise((res) => setTimeout(res, 150));
    ac.abort();
    const err = (await p) as NetnsCommandError;
    expect(err.reason).toBe('spawn');
    expect(err.message).toBe('ip: aborted; child killed');
    expect(await pidsInNetns(ns.path)).toEqual([holder]);
  });

  it('a namespace that does not exist is "vanished" without a spawn; a dead PID too', async () => {
    const r = runner();
    const err = (await rejection(r.run('/var/run/netns/h4-no-such-ns', ['ip', 'link']))) as NetnsCommandError;
    expect(err.reason).toBe('vanished');
    expect(r.spawns).toBe(0);
    const err2 = (await rejection(r.run('/proc/4194303/ns/net', ['ip', 'link']))) as NetnsCommandError;
    expect(err2.reason).toBe('vanished');
    expect(r.spawns).toBe(0);
  });

  it('refuses tools outside the allow-list and unsafe paths before spawning', async () => {
    const r = runner();
    for (const argv of [['sh', '-c', 'id'], ['/usr/sbin/ip', 'link'], ['iptables', '-F'], [], ['ip', 'a\0b']]) {
      const err = await rejection(r.run(ns.path, argv));
      expect(err).toBeInstanceOf(ValidationError);
    }
    for (const p of ['relative/ns', '/proc/1/../1/ns/net', '/x\0y', '']) {
      expect(() => validateNetnsPath(p)).toThrow(ValidationError);
      await expect(r.run(p, ['ip', 'link'])).rejects.toBeInstanceOf(ValidationError);
    }
    expect(r.spawns).toBe(0);
  });

  it('a missing nsenter is reason "spawn"', async () => {
    const r = runner({ nsenterPath: '/nonexistent/nsenter' });
    const err = (await rejection(r.run(ns.path, ['ip', 'link']))) as NetnsCommandError;
    expect(err.reason).toBe('spawn');
    expect(r.active).toBe(0);
  });
});

function which(cmd: string): string {
  return execFileSync('sh', ['-c', 'command -v "$1"', 'sh', cmd], { encoding: 'utf8' }).trim();
}

describeIntegration('NetnsRunner.runScript (the one-spawn read, real nsenter into a real netns)', { root: true, commands: ['nsenter', 'ip', 'tc', 'ipset', 'nft', 'iptables-legacy'] }, () => {
  let ns: TestNetns;
  let holder: number;
  let dir: string;
  /** An nsenter whose child PATH is `bin` (only the tools linked there, plus fakes). */
  const wrapper = async (name: string, tools: string[], fakes: Record<string, string> = {}): Promise<string> => {
    const bin = `${dir}/${name}-bin`;
    await mkdir(bin);
    for (const t of tools) await symlink(which(t), `${bin}/${t}`);
    for (const [t, body] of Object.entries(fakes)) {
      await writeFile(`${bin}/${t}`, `#!/bin/sh\n${body}\n`);
      await chmod(`${bin}/${t}`, 0o755);
    }
    const path = `${dir}/${name}-nsenter`;
    await writeFile(path, `#!/bin/sh\nPATH=${bin}\nexport PATH\nexec ${which('nsenter')} "$@"\n`);
    await chmod(path, 0o755);
    return path;
  };

  beforeAll(async () => {
    dir = await mkdtemp('/tmp/h10-exec-');
    ns = await createNetns('h4s');
    await ns.addPodInterface({ addr: '10.251.1.2/24' });
    holder = await ns.startHolder();
  });
  afterAll(async () => {
    await destroyAll();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs every step in ONE request to ONE worker; each frame holds exactly what the tool prints alone', async () => {
    const events: CommandEvent[] = [];
    const r = runner({ onCommand: (e) => events.push(e) });
    const t0 = performance.now();
    const res = await r.runScript(ns.path, ['iprule4', 'nft', 'tc-auto', 'ipset', 'iprule6']);
    const wall = (performance.now() - t0) / 1000;
    expect([r.spawns, r.reads, r.workerPids().length]).toEqual([1, 1, 1]);
    expect(res.complete).toBe(true);
    expect(res.error).toBeNull();
    expect(res.frames.map((f) => [f.name, f.tool, f.status, f.error])).toEqual([
      ['ip-rule', 'ip', 0, null],
      ['nft', 'nft', 0, null],
      ['tc-batch', null, 0, null],
      ['tc', 'tc', 0, null],
      ['ipset', 'ipset', 0, null],
      ['ip6-rule', 'ip', 0, null],
    ]);
    const alone = runner();
    const frame = (n: string) => res.frames.find((f) => f.name === n)!;
    expect(frame('ip-rule').stdout).toBe((await alone.run(ns.path, ['ip', 'rule', 'show'])).stdout);
    expect(frame('ip-rule').stdout).toBe('0:\tfrom all lookup local\n32766:\tfrom all lookup main\n32767:\tfrom all lookup default\n');
    expect(frame('ip6-rule').stdout).toBe((await alone.run(ns.path, ['ip', '-6', 'rule', 'show'])).stdout);
    expect(frame('nft').stdout).toBe((await alone.run(ns.path, ['nft', 'list', 'tables'])).stdout);
    expect(frame('ipset').stdout).toBe('');
    // tc ran the batch the script built: the same output as the same batch given to tc alone.
    const batch = frame('tc-batch').stdout;
    expect(frame('tc').stdout).toBe((await alone.run(ns.path, ['tc', '-s', '-d', '-j', '-batch', '-'], { input: batch })).stdout);
    expect((JSON.parse(frame('tc').stdout.split('\n')[0]!) as { kind: string; dev: string }[]).map((q) => [q.dev, q.kind])).toEqual([['lo', 'noqueue'], ['eth0', 'noqueue']]);
    for (const f of res.frames) expect(f.stderr).toBe('');
    // One event per tool, with the tool's own duration.
    expect(events.map((e) => [e.tool, e.ok])).toEqual([['ip', true], ['nft', true], ['tc', true], ['ipset', true], ['ip', true]]);
    // The worker (and so every tool it runs) has a lower CPU priority than the agent.
    const pid = r.workerPids()[0];
    expect(getPriority(pid!)).toBe(WORKER_NICENESS);
    // A second read on the same runner reuses the worker: no Node spawn.
    await r.runScript(ns.path, ['iprule4']);
    expect([r.spawns, r.reads, r.workerPids()]).toEqual([1, 2, [pid]]);
    for (const e of events) {
      expect(e.seconds).toBeGreaterThan(0);
      expect(e.seconds).toBeLessThan(wall);
    }
  });

  it('tc-auto builds the batch from the namespace\'s own /proc/self/net/dev', async () => {
    const r = runner();
    const res = await r.runScript(ns.path, ['tc-auto']);
    const batch = res.frames.find((f) => f.name === 'tc-batch')!;
    expect(batch.tool).toBeNull();
    expect(batch.stdout.split('\n').sort()).toEqual(['', 'class show dev eth0', 'class show dev lo', 'filter show dev eth0', 'filter show dev lo', 'qdisc show']);
    expect(batch.stdout.startsWith('qdisc show\n')).toBe(true);
    const tc = res.frames.find((f) => f.name === 'tc')!;
    expect(tc.error).toBeNull();
    expect(res.frames.map((f) => f.name)).toEqual(['tc-batch', 'tc']);
    expect(r.spawns).toBe(1);
  });

  it('refuses unknown, repeated or missing steps, an input, and unsafe paths before anything is sent', async () => {
    const r = runner();
    for (const steps of [[], ['sh'], ['legacy4; id'], ['ipset', 'ipset'], ['tc'], ['nft', '--help'], ['ipset\tlegacy4'], ['ipset\n']]) {
      await expect(r.runScript(ns.path, steps as ScriptStep[])).rejects.toBeInstanceOf(ValidationError);
    }
    await expect(r.runScript(ns.path, ['tc-auto'], { input: 'qdisc show\n' })).rejects.toThrow('netns script: no input can be given');
    await expect(r.runScript('relative/ns', ['ipset'])).rejects.toBeInstanceOf(ValidationError);
    // Hostile paths: a TAB would start a new request field, a newline a new request.
    for (const p of [`${ns.path}\tlegacy4`, `${ns.path}\n${'0'.repeat(32)}\t5.000\t1.000\t/proc/self/ns/net\tipset`, '/tmp/a\rb', '/tmp/\u007f']) {
      expect(() => validateNetnsPath(p)).toThrow(ValidationError);
      await expect(r.runScript(p, ['ipset'])).rejects.toBeInstanceOf(ValidationError);
    }
    expect([r.spawns, r.reads, r.workerPids()]).toEqual([0, 0, []]);
  });

  it('a tool missing from the image is reason "spawn" in its frame; the script goes on', async () => {
    const nsenter = await wrapper('noipset', ['ip']);
    const events: CommandEvent[] = [];
    const r = runner({ nsenterPath: nsenter, onCommand: (e) => events.push(e) });
    const res = await r.runScript(ns.path, ['ipset', 'nft', 'iprule4']);
    expect(res.complete).toBe(true);
    expect(res.frames.map((f) => [f.name, f.status, f.error?.reason ?? null, f.error?.message ?? null])).toEqual([
      ['ipset', 127, 'spawn', 'ipset: failed to execute ipset: command not found'],
      ['nft', 127, 'spawn', 'nft: failed to execute nft: command not found'],
      // nft missing: both saves are tried (and are missing here too)
      ['iptables-nft-save', 127, 'spawn', 'iptables-nft-save: failed to execute iptables-nft-save: command not found'],
      ['ip6tables-nft-save', 127, 'spawn', 'ip6tables-nft-save: failed to execute ip6tables-nft-save: command not found'],
      ['ip-rule', 0, null, null],
    ]);
    expect(events.map((e) => [e.tool, e.ok, e.reason ?? null])).toEqual([
      ['ipset', false, 'spawn'], ['nft', false, 'spawn'], ['iptables-nft-save', false, 'spawn'], ['ip6tables-nft-save', false, 'spawn'], ['ip', true, null],
    ]);
  });

  it('the nft step saves only the families nft lists an xtables table for; ipset-if-tables follows that', async () => {
    const fresh = await createNetns('h4q'); // no legacy table in it
    const saves = { 'iptables-nft-save': 'echo v4', 'ip6tables-nft-save': 'echo v6', ipset: 'echo sets' };
    const both = await wrapper('nft1', [], { nft: 'printf "table ip filter\\ntable inet cilium\\ntable ip6 mine\\n"', ...saves });
    const res = await runner({ nsenterPath: both }).runScript(fresh.path, ['nft', 'ipset-if-tables']);
    expect(res.frames.map((f) => [f.name, f.stdout, f.status])).toEqual([
      ['nft', 'table ip filter\ntable inet cilium\ntable ip6 mine\n', 0],
      ['iptables-nft-save', 'v4\n', 0],
      ['ipset', 'sets\n', 0],
    ]);
    const none = await wrapper('nft2', [], { nft: 'echo "table inet cilium"', ...saves });
    const res2 = await runner({ nsenterPath: none }).runScript(fresh.path, ['nft', 'ipset-if-tables']);
    expect(res2.frames.map((f) => f.name)).toEqual(['nft']);
    expect(res2.complete).toBe(true);
    const failing = await wrapper('nft3', [], { nft: 'echo "netlink: Error" >&2; exit 1', ...saves });
    const res3 = await runner({ nsenterPath: failing }).runScript(fresh.path, ['nft', 'ipset-if-tables']);
    expect(res3.frames.map((f) => [f.name, f.error?.message ?? null])).toEqual([
      ['nft', 'nft: exit status 1: netlink: Error'], ['iptables-nft-save', null], ['ip6tables-nft-save', null],
    ]);
    await fresh.destroy();
  });

  it('a failing tool is reason "exit" with its stderr; later steps still run', async () => {
    const nsenter = await wrapper('failing', ['ip'], { ipset: 'echo "ipset v7.17: Kernel error received: boom" >&2\nexit 1' });
    const r = runner({ nsenterPath: nsenter });
    const res = await r.runScript(ns.path, ['ipset', 'iprule4']);
    const f = res.frames[0]!;
    expect([f.name, f.status, f.error?.reason, f.error?.message, f.error?.stderr]).toEqual([
      'ipset', 1, 'exit', 'ipset: exit status 1: ipset v7.17: Kernel error received: boom', 'ipset v7.17: Kernel error received: boom',
    ]);
    expect(res.frames[1]!.error).toBeNull();
    expect(res.complete).toBe(true);
  });

  it('the timeout (per-command x tools) kills bash AND the running tool: no process left; earlier frames kept', async () => {
    const nsenter = await wrapper('slow', ['ip'], { ipset: 'exec /bin/sleep 30' });
    const events: CommandEvent[] = [];
    const r = runner({ nsenterPath: nsenter, timeoutMs: 300, killGraceMs: 200, onCommand: (e) => events.push(e) });
    const t0 = Date.now();
    const res = await r.runScript(ns.path, ['iprule4', 'ipset']);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(res.complete).toBe(false);
    expect(res.error?.reason).toBe('timeout');
    expect(res.error?.message).toBe('ipset: killed after 600 ms');
    expect(res.frames.map((f) => [f.name, f.status])).toEqual([['ip-rule', 0], ['ipset', null]]);
    expect(res.frames[0]!.stdout).toContain('32766:\tfrom all lookup main');
    expect(res.frames[1]!.error).toBe(res.error);
    expect(events.map((e) => [e.tool, e.ok, e.reason ?? null])).toEqual([['ip', true, null], ['ipset', false, 'timeout']]);
    expect(await pidsInNetns(ns.path)).toEqual([holder]);
    expect(r.active).toBe(0);
    // timeout(1) killed the request's process group, not the worker: the same worker answers the next request.
    const [worker] = r.workerPids();
    const next = await r.runScript(ns.path, ['iprule4']);
    expect([next.complete, next.frames.map((f) => f.name)]).toEqual([true, ['ip-rule']]);
    expect([r.spawns, r.reads, r.workerPids()]).toEqual([1, 2, [worker]]);
  });

  it("Node's watchdog kills a worker that does not answer; a fresh worker serves the next request", async () => {
    // An nsenter stand-in that, once, freezes its parent timeout(1) (so timeout never fires) and sleeps.
    const pidFile = `${dir}/frozen.pid`;
    const flag = `${dir}/freeze-once`;
    const nsenter = `${dir}/freezing-nsenter`;
    await writeFile(nsenter, `#!/bin/sh\nif [ -e '${flag}' ]; then rm -f '${flag}'; echo $$ $PPID > '${pidFile}'; kill -STOP $PPID; exec sleep 30; fi\nexec ${which('nsenter')} "$@"\n`);
    await chmod(nsenter, 0o755);
    await writeFile(flag, '');
    const events: CommandEvent[] = [];
    const r = runner({ nsenterPath: nsenter, timeoutMs: 300, killGraceMs: 200, onCommand: (e) => events.push(e) });
    const t0 = Date.now();
    const res = await r.runScript(ns.path, ['ipset']);
    const took = Date.now() - t0;
    // Watchdog: 300 ms x 1 tool + 200 ms grace + 1000 ms.
    expect(took).toBeGreaterThanOrEqual(1450);
    expect(took).toBeLessThan(4000);
    expect([res.complete, res.error?.reason, res.error?.tool, res.error?.message, res.frames]).toEqual([
      false, 'timeout', 'nsenter', 'nsenter: killed after 300 ms (the netns worker did not answer; worker killed)', [],
    ]);
    expect(events.map((e) => [e.tool, e.ok, e.reason])).toEqual([['nsenter', false, 'timeout']]);
    const [sleeper, frozenTimeout] = (await readFile(pidFile, 'utf8')).trim().split(' ').map(Number);
    await waitFor(() => !alive(sleeper!) && !alive(frozenTimeout!));
    expect(r.workerPids()).toEqual([]);
    // The next request starts a new worker (a second Node spawn) and succeeds.
    const next = await r.runScript(ns.path, ['iprule4']);
    expect([next.complete, next.error, next.frames.map((f) => [f.name, f.status])]).toEqual([true, null, [['ip-rule', 0]]]);
    expect([r.spawns, r.reads, r.workerPids().length]).toEqual([2, 2, 1]);
  });

  it('two requests in sequence on one worker demultiplex exactly (output without a final newline, stderr, markers)', async () => {
    const nsenter = await wrapper('seq', ['ip'], {
      ipset: 'printf "first\\nno newline at the end"; printf "warn: x\\n" >&2',
      nft: 'printf "table ip filter"; printf "nft says\\n" >&2; exit 3',
      'iptables-nft-save': 'printf "*filter\\nCOMMIT\\n"',
      'ip6tables-nft-save': 'printf ""',
    });
    const r = runner({ nsenterPath: nsenter, concurrency: 1 });
    const a = await r.runScript(ns.path, ['ipset', 'iprule4']);
    const b = await r.runScript(ns.path, ['nft', 'ipset']);
    expect([r.spawns, r.reads, r.workerPids().length]).toEqual([1, 2, 1]);
    expect(a.frames.map((f) => [f.name, f.stdout, f.stderr, f.status])).toEqual([
      ['ipset', 'first\nno newline at the end', 'warn: x\n', 0],
      ['ip-rule', '0:\tfrom all lookup local\n32766:\tfrom all lookup main\n32767:\tfrom all lookup default\n', '', 0],
    ]);
    expect([a.complete, b.complete]).toEqual([true, true]);
    expect(b.frames.map((f) => [f.name, f.stdout, f.stderr, f.status, f.error?.message ?? null])).toEqual([
      // (the script captures nft's output to look at it, and prints it back with a newline)
      ['nft', 'table ip filter\n', 'nft says\n', 3, 'nft: exit status 3: nft says'],
      // nft failed: both saves run
      ['iptables-nft-save', '*filter\nCOMMIT\n', '', 0, null],
      ['ip6tables-nft-save', '', '', 0, null],
      ['ipset', 'first\nno newline at the end', 'warn: x\n', 0, null],
    ]);
  });

  it('a worker that dies mid-request fails only that request; nothing it ran is left', async () => {
    const nsenter = await wrapper('dies', ['ip'], { ipset: 'exec /bin/sleep 1.5' });
    const r = runner({ nsenterPath: nsenter, concurrency: 2 });
    const both = [r.runScript(ns.path, ['iprule4', 'ipset']), r.runScript(ns.path, ['iprule4', 'ipset'])];
    // holder + 2 x (bash + sleep)
    await waitFor(async () => (await pidsInNetns(ns.path)).length === 5);
    const workers = r.workerPids();
    expect(workers).toHaveLength(2);
    process.kill(workers[0]!, 'SIGKILL');
    const [x, y] = await Promise.all(both);
    const [dead, ok] = x!.error ? [x!, y!] : [y!, x!];
    expect([dead.complete, dead.error?.reason, dead.error?.message]).toEqual([false, 'exit', 'ipset: the netns worker died during the read (killed by SIGKILL)']);
    expect(dead.frames.map((f) => [f.name, f.status, f.error === dead.error])).toEqual([['ip-rule', 0, false], ['ipset', null, true]]);
    expect(dead.frames[0]!.stdout).toContain('32766:\tfrom all lookup main');
    expect([ok.complete, ok.error, ok.frames.map((f) => [f.name, f.status])]).toEqual([true, null, [['ip-rule', 0], ['ipset', 0]]]);
    expect(await pidsInNetns(ns.path)).toEqual([holder]);
    expect(r.workerPids()).toEqual([workers[1]]);
    // The surviving worker serves the next reads; a second one at once starts a replacement.
    const again = await Promise.all([r.runScript(ns.path, ['iprule4']), r.runScript(ns.path, ['iprule4'])]);
    expect(again.map((a) => a.complete)).toEqual([true, true]);
    expect([r.spawns, r.reads, r.workerPids().length]).toEqual([3, 4, 2]);
  });

  it('idle workers stop after idleTimeoutMs; the next read starts one again', async () => {
    const r = runner({ idleTimeoutMs: 150 });
    await r.runScript(ns.path, ['iprule4']);
    const [pid] = r.workerPids();
    expect(alive(pid!)).toBe(true);
    await waitFor(() => r.workerPids().length === 0 && !alive(pid!));
    await r.runScript(ns.path, ['iprule4']);
    expect([r.spawns, r.reads, r.workerPids().length]).toEqual([2, 2, 1]);
  });

  it('killAll and abort kill the whole script tree and the workers', async () => {
    const nsenter = await wrapper('hang', ['ip'], { ipset: 'exec /bin/sleep 30' });
    const r = runner({ nsenterPath: nsenter, timeoutMs: 20_000, concurrency: 3 });
    await r.runScript(ns.path, ['iprule4']); // leaves an idle worker
    const running = [r.runScript(ns.path, ['ipset']), r.runScript(ns.path, ['ipset'])];
    await waitFor(async () => (await pidsInNetns(ns.path)).length === 5); // holder + 2 x (bash, the tool)
    const workers = r.workerPids();
    expect(workers).toHaveLength(2);
    const idle = await r.runScript(ns.path, ['iprule4']); // the third slot: a third worker, then idle
    expect(idle.complete).toBe(true);
    const all = r.workerPids();
    expect(all).toHaveLength(3);
    r.killAll();
    for (const res of await Promise.all(running)) {
      expect(res.error?.reason).toBe('spawn');
      expect(res.error?.message).toBe('ipset: killed by SIGKILL: the runner was stopped');
    }
    expect(await pidsInNetns(ns.path)).toEqual([holder]);
    await waitFor(() => all.every((p) => !alive(p)));
    expect(r.workerPids()).toEqual([]);

    const r2 = runner({ nsenterPath: nsenter, timeoutMs: 20_000 });
    const ac = new AbortController();
    const p = r2.runScript(ns.path, ['iprule4', 'ipset'], { signal: ac.signal });
    await new Promise((res) => setTimeout(res, 300));
    ac.abort();
    const res2 = await p;
    expect([res2.error?.reason, res2.error?.message]).toEqual(['spawn', 'ipset: aborted; child killed']);
    expect(res2.frames[0]!.error).toBeNull();
    expect(await pidsInNetns(ns.path)).toEqual([holder]);
  });

  it('output caps: one tool over maxOutputBytes loses its frame only; the whole output over the script cap kills it', async () => {
    const rules = ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':H4BIG - [0:0]'];
    for (let i = 0; i < 1500; i++) rules.push(`-A H4BIG -s 10.9.${i >> 8}.${i & 255}/32 -m comment --comment "rule number ${i}" -j ACCEPT`);
    rules.push('COMMIT', '');
    await ns.exec(['iptables-legacy-restore'], { input: rules.join('\n') });
    try {
      // 1500 rules: ~110 KB, over 2 KiB per tool and over the script cap of 2 KiB x 10 tools + 64 KiB.
      const r = runner({ maxOutputBytes: 2048 });
      const res = await r.runScript(ns.path, ['legacy4', 'nft', 'iprule4', 'ipset', 'iprule6', 'legacy6', 'tc-auto']);
      expect(res.complete).toBe(false);
      // 10 tools (nft counts 4: nft, both iptables-nft-save, ebtables-nft-save) x 2048 + 65536 = 86016 < the iptables-legacy-save output: killed during it.
      expect([res.error?.reason, res.error?.message]).toEqual(['output_limit', 'iptables-legacy-save: output larger than 86016 bytes; child killed']);
      expect(await pidsInNetns(ns.path)).toEqual([holder]);

      const r2 = runner({ maxOutputBytes: 40_000 });
      const res2 = await r2.runScript(ns.path, ['legacy4', 'iprule4']);
      expect(res2.complete).toBe(true);
      expect([res2.frames[0]!.error?.reason, res2.frames[0]!.error?.message]).toEqual(['output_limit', 'iptables-legacy-save: output larger than 40000 bytes; output discarded']);
      expect(res2.frames[1]!.error).toBeNull();
      // With room, the whole table is there.
      const ok = await runner().runScript(ns.path, ['legacy4']);
      expect(ok.frames[0]!.stdout.split('\n').filter((l) => l.startsWith('[0:0] -A H4BIG '))).toHaveLength(1500);
    } finally {
      await ns.exec(['iptables-legacy', '-F', 'H4BIG']);
      await ns.exec(['iptables-legacy', '-X', 'H4BIG']);
    }
  });

  it('a namespace that does not exist costs no request; a missing nsenter is reason "spawn"', async () => {
    const r = runner();
    const err = (await rejection(r.runScript('/var/run/netns/h4-no-such-ns', ['ipset']))) as NetnsCommandError;
    expect([err.reason, err.tool]).toEqual(['vanished', 'nsenter']);
    expect([r.spawns, r.reads]).toEqual([0, 0]);
    const r2 = runner({ nsenterPath: '/nonexistent/nsenter' });
    const res = await r2.runScript(ns.path, ['ipset']);
    expect([res.error?.reason, res.error?.tool, res.error?.message, res.frames]).toEqual([
      'spawn', 'nsenter', "nsenter: cannot run /nonexistent/nsenter: timeout: failed to run command '/nonexistent/nsenter': No such file or directory", [],
    ]);
    expect(r2.active).toBe(0);
    // The worker itself is fine and stays.
    expect(r2.workerPids()).toHaveLength(1);
  });

  it('a namespace that vanishes between the stat and nsenter is reason "vanished" from nsenter\'s own message', async () => {
    // A bind-mount-free stand-in: a regular file that is not a namespace passes the stat, nsenter refuses it.
    const bogus = `${dir}/not-a-netns`;
    await writeFile(bogus, '');
    const nsenter = `${dir}/vanish-nsenter`;
    // Remove the file right before exec-ing the real nsenter, as a pod deleted at that instant would.
    await writeFile(nsenter, `#!/bin/sh\nrm -f '${bogus}'\nexec ${which('nsenter')} "$@"\n`);
    await chmod(nsenter, 0o755);
    const r = runner({ nsenterPath: nsenter });
    const res = await r.runScript(bogus, ['ipset']);
    expect([res.error?.reason, res.error?.tool, res.frames]).toEqual(['vanished', 'nsenter', []]);
    expect(res.error?.message).toBe(`nsenter: nsenter: cannot open ${bogus}: No such file or directory`);
  });
});
