/**
 * The quick start's end-to-end run on real components (as root, after scripts/install-deps.sh and npm ci):
 * a real containerd with three real pods, Chaos Mesh's injection sequences replayed into two of them, then the
 * agent's own CLI (runtimes, pods, inspect, metrics) against that containerd, a recovery, and teardown.
 *   node dist/scripts/demo.js [--keep]   (--keep leaves containerd and the pods running and prints how to stop)
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { startContainerd, type ContainerdHarness } from '../test/helpers/containerd.js';
import { ChaosMeshReplay } from '../test/helpers/chaos-mesh.js';
import { enterNetns } from '../test/helpers/netns.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'bin', 'chaos-node-agent.js');

function agent(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { timeout: 60_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function show(title: string, args: string[], filter?: (line: string) => boolean): Promise<void> {
  process.stdout.write(`\n$ chaos-node-agent ${args.join(' ')}${filter ? '   # filtered' : ''}\n`);
  const r = await agent(args);
  const out = filter ? r.stdout.split('\n').filter(filter).join('\n') + '\n' : r.stdout;
  process.stdout.write(out);
  if (r.stderr.trim()) process.stdout.write(r.stderr);
  if (r.code !== 0) throw new Error(`${title}: exit ${r.code}`);
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the demo needs root (containerd, network namespaces, iptables)');
  const keep = process.argv.includes('--keep');
  let h: ContainerdHarness | null = null;
  try {
    process.stdout.write('Starting a real containerd (own socket, CNI bridge) and three pods...\n');
    h = await startContainerd({ name: 'demo' });
    const web = await h.runPod({ name: 'web', namespace: 'shop', containers: ['nginx', 'sidecar'] });
    const api = await h.runPod({ name: 'api', namespace: 'shop' });
    await h.runPod({ name: 'cart', namespace: 'shop' });

    process.stdout.write('Replaying Chaos Mesh: a partition into shop/web (iptables-legacy + ipsets), a bandwidth limit into shop/api (tbf)...\n');
    const webCm = new ChaosMeshReplay(enterNetns(web.netnsPath), 'legacy');
    await webCm.partition({ experiment: 'web-partition', direction: 'to', cidrs: ['10.96.0.0/16', '192.0.2.10/32'], cidrPorts: ['10.97.0.0/16,tcp:5432'] });
    await new ChaosMeshReplay(enterNetns(api.netnsPath), 'nft').bandwidth({ rate: 1_000_000, burst: 32_768, limit: 100_000 });

    const ep = ['--runtime-endpoint', h.endpoint];
    await show('runtimes', ['runtimes', ...ep]);
    await show('pods', ['pods', ...ep]);
    await show('inspect', ['inspect', '--all', ...ep]);
    await show('metrics', ['metrics', ...ep], (l) => /^chaos_daemon_(injection_active|pod_verdict\{.*\} 1|tbf_rate|runtime_up|ipset_members)/.test(l));

    process.stdout.write('\nRecovering the partition as Chaos Mesh does (empty chains and ipsets stay behind)...\n');
    await webCm.recover();
    await show('inspect', ['inspect', 'shop/web', ...ep]);
    if (keep) {
      process.stdout.write(`\ncontainerd keeps running: ${h.endpoint} (pid ${h.pid}); stop it with: kill ${h.pid}\n`);
      h = null;
    }
  } finally {
    if (h) {
      process.stdout.write('\nTearing down pods and containerd...\n');
      await h.stop();
    }
  }
  process.stdout.write('Done.\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
