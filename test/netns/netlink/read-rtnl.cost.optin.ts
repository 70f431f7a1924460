/**
 * Cost of the rtnetlink read, printed (not a timed assertion: 2 shared cores). Run as root with RTNL_COST=1:
 *   RTNL_COST=1 npx vitest run --config vitest.optin.config.ts test/netns/netlink/read-rtnl.cost.optin.ts
 * For an empty namespace and one with Chaos Mesh's tbf root (pod interface with IPv4 + IPv6): the median wall time
 * and the CPU per read of readRtnl on an open socket, and of the whole thing (setns, socket, read, close), against
 * what the tools reader runs for the same two sources (`ip -j -d link`, `ip -j rule` x2, the tc batches, each
 * through nsenter), CPU of the child processes included.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { filterParents } from '../../../agent/netns/model/filter-parents.js';
import { withNetns } from '../../../agent/netns/netlink/enter.js';
import { readRtnl } from '../../../agent/netns/netlink/read-rtnl.js';
import type { NetlinkSocket } from '../../../agent/netns/netlink/socket.js';
import { parseIpLinks, parseIpRules } from '../../../agent/netns/nsenter/ip.js';
import { parseTcBatch, tcFilterCommands, tcTreeCommands } from '../../../agent/netns/nsenter/tc.js';
import { ChaosMeshReplay } from '../../helpers/chaos-mesh.js';
import { createNetns, destroyAll, type TestNetns } from '../../helpers/netns.js';

const socketOf = (ns: TestNetns): NetlinkSocket => withNetns(ns.path, statSync(ns.path).ino, (inside) => inside.route()).value;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** CPU of this process and its waited-for children, ms (/proc/self/stat utime stime cutime cstime). */
function cpuMs(): number {
  const f = readFileSync('/proc/self/stat', 'utf8').slice(readFileSync('/proc/self/stat', 'utf8').lastIndexOf(')') + 2).split(' ');
  const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(f[i]), 0);
  return (ticks * 1000) / 100;
}

/** The tools reader's links + tc reads for one namespace (the same commands tool-sources.ts runs). */
function toolsRead(ns: TestNetns): void {
  const run = (argv: string[], input?: string): string =>
    execFileSync('nsenter', [`--net=${ns.path}`, '--', ...argv], { encoding: 'utf8', ...(input !== undefined ? { input } : {}) });
  const links = parseIpLinks(run(['ip', '-j', '-d', 'link', 'show'])).links;
  parseIpRules(run(['ip', '-j', 'rule', 'show']), 'ipv4');
  parseIpRules(run(['ip', '-6', '-j', 'rule', 'show']), 'ipv6');
  const tree = tcTreeCommands(links.map((l) => l.name));
  const t = parseTcBatch(run(['tc', '-s', '-d', '-raw', '-j', '-batch', '-'], tree.input), tree.commands);
  const f = tcFilterCommands(filterParents(t.qdiscs, t.classes));
  if (f.commands.length > 0) parseTcBatch(run(['tc', '-s', '-d', '-raw', '-j', '-batch', '-'], f.input), f.commands);
}

describe.runIf(process.env.RTNL_COST === '1')('rtnetlink read cost', () => {
  afterAll(destroyAll);

  it('empty namespace and Chaos Mesh tbf root', async () => {
    const empty = await createNetns('nlcost');
    const tbf = await createNetns('nlcost');
    await tbf.addPodInterface({ addr: '10.79.1.2/24', addr6: 'fd00:79:1::2/64' });
    await new ChaosMeshReplay(tbf).bandwidth({ rate: 8_000_000, burst: 20_000, limit: 40_000 });
    const runs = 1000;
    for (const [name, ns] of [['empty', empty], ['tbf', tbf]] as const) {
      const s = socketOf(ns);
      const limits = () => ({ maxBytes: 1 << 20, deadline: performance.now() + 2000 });
      for (let i = 0; i < 100; i++) readRtnl(s, limits());
      const wall: number[] = [];
      let c0 = cpuMs();
      let requests = 0;
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        requests = readRtnl(s, limits()).requests;
        wall.push(performance.now() - t0);
      }
      const readCpu = (cpuMs() - c0) / runs;
      s.close();
      const whole: number[] = [];
      c0 = cpuMs();
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        const fresh = socketOf(ns);
        readRtnl(fresh, limits());
        fresh.close();
        whole.push(performance.now() - t0);
      }
      const wholeCpu = (cpuMs() - c0) / runs;
      const toolRuns = 30;
      const toolWall: number[] = [];
      c0 = cpuMs();
      for (let i = 0; i < toolRuns; i++) {
        const t0 = performance.now();
        toolsRead(ns);
        toolWall.push(performance.now() - t0);
      }
      const toolCpu = (cpuMs() - c0) / toolRuns;
      process.stdout.write(
        `${name}: readRtnl median ${median(wall).toFixed(3)} ms wall, ${readCpu.toFixed(3)} ms CPU (${requests} requests); ` +
          `with setns + socket + close median ${median(whole).toFixed(3)} ms wall, ${wholeCpu.toFixed(3)} ms CPU; ` +
          `tools (ip x3 + tc via nsenter) median ${median(toolWall).toFixed(1)} ms wall, ${toolCpu.toFixed(1)} ms CPU\n`,
      );
      expect(requests).toBeGreaterThan(0);
    }
  });
});
