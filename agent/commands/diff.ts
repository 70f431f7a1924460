/**
 * `chaos-node-agent diff NAMESPACE/POD [--json]`: Chaos Mesh's intent for one pod (PodNetworkChaos,
 * PodHttpChaos, PodIOChaos, experiment records, from the Kubernetes API) beside what its network namespace holds,
 * one line per artefact with its state (present / missing / mismatch / leftover / stale / pending / failed) and owner, then the findings with
 * their owners and the kernel dumps - what `chaosctl debug` printed, reconciled. Without API access the kernel
 * side is printed alone and says why. Exit 0 when the pod's namespace was read, 1 otherwise.
 */
import type { Config } from '../config.js';
import { collect, kernelJson, podIdentityJson, wasInspected } from '../collection.js';
import { countsText, driftUnknownLine, entryLine, findingWithOwner, intentSummary, ownerText } from '../intent/format.js';
import { driftJson, intentJson } from '../intent/json.js';
import { beginKubeLists, oneShotKube } from '../intent/setup.js';
import { createNetnsReader } from '../netns/read.js';
import { describePod, parsePodName } from '../pod-name.js';
import { Inventory, unreachableMessage } from '../runtime/inventory.js';
import type { PodReport } from '../snapshot.js';
import { formatKernel, notReadLine } from './inspect.js';
import type { CommandIo } from './io.js';
import { formatTable } from './runtimes.js';

export function diffJson(r: PodReport, kubeOff: string | null, maxRules = Number.MAX_SAFE_INTEGER) {
  return {
    ...podIdentityJson(r),
    verdict: r.chaos.verdict,
    kinds: r.chaos.kinds,
    kube: kubeOff === null ? 'on' : `off: ${kubeOff}`,
    intent: r.intent ? intentJson(r.intent) : null,
    drift: r.drift ? driftJson(r.drift) : null,
    findings: r.drift?.findings ?? r.chaos.findings.map((f) => ({ finding: f, owners: [] })),
    kernel: kernelJson(r, maxRules),
    errors: r.errors,
  };
}

export function formatDiff(r: PodReport, kubeOff: string | null, maxRules = Number.MAX_SAFE_INTEGER): string {
  const out: string[] = [];
  out.push(`pod ${r.namespace}/${r.name}${r.runtime ? ` (${r.runtime})` : ''}${r.netns ? `  netns inode ${r.netns.inode} ${r.netns.path}` : ''}`);
  out.push(`verdict: ${r.chaos.verdict}${r.chaos.kinds.length ? `  kinds: ${r.chaos.kinds.join(', ')}` : ''}`);
  if (kubeOff !== null) out.push(`intent: not read (${kubeOff})`);
  else if (r.intent) out.push(intentSummary(r.intent.status, r.intent.pod));
  const d = r.drift;
  if (d && d.status === 'reconciled') {
    out.push('');
    const rows = [['STATE', 'ARTEFACT', 'NAME', 'INTENT (Chaos Mesh)', 'KERNEL', 'OWNER']];
    for (const e of d.entries) rows.push([e.state, e.artefact, e.name, e.spec ?? '-', e.kernel ?? '-', ownerText(e.owners)]);
    out.push(d.entries.length ? formatTable(rows).trimEnd() : 'no Chaos Mesh state intended or found');
    out.push('', `drift: ${countsText(d.counts)}`);
    for (const e of d.entries) if (e.state !== 'present') out.push(`  ${entryLine(e)}`);
  } else if (d) {
    out.push(driftUnknownLine(d, r.intent?.status));
  }
  if (r.chaos.findings.length) {
    out.push('', 'findings:');
    r.chaos.findings.forEach((f, i) => out.push(`  - ${findingWithOwner(f, i, d)}`));
  }
  if (r.errors.length) {
    out.push('', 'errors:');
    for (const e of r.errors) out.push(`  ! ${e}`);
  }
  const unread = notReadLine(r);
  if (unread !== null) {
    out.push('', `kernel: ${unread}`);
    return `${out.join('\n')}\n`;
  }
  out.push('', 'kernel:', ...formatKernel(r, maxRules));
  return `${out.join('\n')}\n`;
}

export async function run(cfg: Config, io: CommandIo): Promise<number> {
  const target = parsePodName(cfg.args[0]!);
  const { namespace, name } = target;
  const intent = beginKubeLists(cfg, io.env, io.log, io.signal);
  const reader = createNetnsReader(cfg, { log: io.log });
  const onAbort = (): void => void reader.close();
  io.signal.addEventListener('abort', onAbort, { once: true });
  const inventory = new Inventory(cfg, { log: io.log });
  try {
    const kube = oneShotKube(intent);
    const snap = await collect(
      { inventory, reader, procRoot: cfg.procRoot, log: io.log, ...(kube ? { kube } : {}) },
      { signal: io.signal, filter: (p) => p.namespace === namespace && p.name === name, hostSharing: 'full' },
    );
    const { off: kubeOff } = await intent.result;
    if (!snap.runtimes.some((s) => s.up)) {
      io.err(`chaos-node-agent diff: ${unreachableMessage(snap.runtimes)}`);
      return 1;
    }
    const report = snap.pods[0];
    if (report === undefined) {
      io.err(`chaos-node-agent diff: pod ${describePod(target)} not found on this node\n`);
      return 1;
    }
    io.out(cfg.json ? `${JSON.stringify(diffJson(report, kubeOff, cfg.maxRulesPerPod), null, 2)}\n` : formatDiff(report, kubeOff, cfg.maxRulesPerPod));
    return wasInspected(report) ? 0 : 1;
  } finally {
    io.signal.removeEventListener('abort', onAbort);
    inventory.close();
    await reader.close();
  }
}
