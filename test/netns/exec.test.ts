import { afterAll, beforeAll, expect, it } from 'vitest';
import { NetnsRunner, validateNetnsPath } from '../../agent/netns/exec.js';
import { NetnsCommandError, ValidationError } from '../../agent/errors.js';
import { describeIntegration } from '../helpers/env.js';
import { createNetns, destroyAll, pidsInNetns, type TestNetns } from '../helpers/netns.js';

function runner(over: Partial<ConstructorParameters<typeof NetnsRunner>[0]> = {}) {
  return new NetnsRunner({ nsenterPath: 'nsenter', concurrency: 4, timeoutMs: 5000, maxOutputBytes: 1 << 20, ...over });
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
