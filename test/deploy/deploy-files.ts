/**
 * Loading the shipped deployment files (daemonset.yaml, deploy/*) for the deploy tests, and small lookups
 * into them. YAML is parsed with `yaml` (eemeli/yaml), every document of a file kept in order.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export function repoText(rel: string): string {
  return readFileSync(join(REPO, rel), 'utf8');
}

/** Every YAML document of a file, as plain objects; a YAML syntax error in any document throws. */
export function yamlDocs(rel: string): Obj[] {
  const docs = parseAllDocuments(repoText(rel));
  if (!Array.isArray(docs)) throw new Error(`${rel}: not a YAML stream`);
  return docs.map((d, i) => {
    if (d.errors.length) throw new Error(`${rel} document ${i}: ${d.errors.map((e) => e.message).join('; ')}`);
    return d.toJS() as Obj;
  });
}

export function byKind(docs: Obj[], kind: string): Obj {
  const found = docs.filter((d) => d.kind === kind);
  if (found.length !== 1) throw new Error(`expected exactly one ${kind}, found ${found.length}`);
  return found[0]!;
}

export function packageVersion(): string {
  return (JSON.parse(repoText('package.json')) as { version: string }).version;
}

/** The DaemonSet's agent container. */
export function agentContainer(ds: Obj): Obj {
  const cs = ds.spec.template.spec.containers as Obj[];
  const c = cs.find((x) => x.name === 'chaos-node-agent');
  if (!c) throw new Error('no container named chaos-node-agent');
  return c;
}

/** Capabilities the DaemonSet adds, as CAP_* names (what capabilities(7) and setpriv call them). */
export function addedCapabilities(): string[] {
  const ds = byKind(yamlDocs('daemonset.yaml'), 'DaemonSet');
  const add = (agentContainer(ds).securityContext?.capabilities?.add ?? []) as string[];
  return add.map((c) => `CAP_${c.toUpperCase()}`);
}
