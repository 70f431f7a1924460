/**
 * DNSChaos, exact (pkg/chaosdaemon/dns_server.go): apply runs `ls /etc/resolv.conf.chaos.bak || cp /etc/resolv.conf
 * /etc/resolv.conf.chaos.bak` (a backup made once), then rewrites every line containing `nameserver` to
 * `nameserver <chaos DNS server>` in place (resolv.conf is a bind mount); recovery runs `cat
 * /etc/resolv.conf.chaos.bak > /etc/resolv.conf` and never deletes the backup.
 *
 * So: no backup -> nothing; a backup whose nameservers equal resolv.conf's -> scaffolding (a recovered
 * DNSChaos); different nameservers -> active (the finding names both lists). Both files are read inside the
 * container's root through pod-root.ts, capped; a file cut at its cap can still prove `active` (its first
 * nameservers already differ) but never `scaffolding`.
 */
import { PodPathError, errorMessage } from '../errors.js';
import { readInRoot, type RootAccess, type RootFile } from './pod-root.js';

export const RESOLV_CONF = '/etc/resolv.conf';
export const RESOLV_BACKUP = '/etc/resolv.conf.chaos.bak';

export type DnsState = 'none' | 'scaffolding' | 'active' | 'unknown';

export interface DnsFact {
  container: string;
  containerId: string;
  pid: number;
  state: DnsState;
  /** resolv.conf's nameservers (null when it could not be read or is absent). */
  nameservers: string[] | null;
  /** The backup's nameservers (null when there is no backup or it could not be read). */
  backupNameservers: string[] | null;
  /** Why the state is `unknown` (a refused path, a timeout, a cut file). */
  error?: { reason: string; message: string };
}

/** `nameserver <addr>` lines (first two fields), in order; comments (`#`, `;`) and other keywords ignored. */
export function parseNameservers(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const [key, value] = line.split(/\s+/, 2);
    if (key === 'nameserver' && value !== undefined) out.push(value);
  }
  return out;
}

/** Pure: the state from both reads (null = absent). A cut file proves `active` or nothing. */
export function compareResolv(resolv: RootFile | null, backup: RootFile | null): Pick<DnsFact, 'state' | 'nameservers' | 'backupNameservers' | 'error'> {
  const nameservers = resolv ? parseNameservers(resolv.text) : null;
  if (backup === null) return { state: 'none', nameservers, backupNameservers: null };
  const backupNameservers = parseNameservers(backup.text);
  if (nameservers === null) {
    return { state: 'unknown', nameservers, backupNameservers, error: { reason: 'absent', message: `${RESOLV_BACKUP} exists but ${RESOLV_CONF} does not` } };
  }
  const cut = resolv!.truncated || backup.truncated;
  const n = cut ? Math.min(nameservers.length, backupNameservers.length) : Math.max(nameservers.length, backupNameservers.length);
  for (let i = 0; i < n; i++) {
    if (nameservers[i] !== backupNameservers[i]) return { state: 'active', nameservers, backupNameservers };
  }
  if (cut) {
    const which = resolv!.truncated ? RESOLV_CONF : RESOLV_BACKUP;
    return { state: 'unknown', nameservers, backupNameservers, error: { reason: 'truncated', message: `${which} is larger than the read cap` } };
  }
  return { state: 'scaffolding', nameservers, backupNameservers };
}

/** Read both files in one container's root and compare them. A refusal (PodPathError) is an `unknown` fact. */
export async function readDns(
  access: RootAccess,
  container: { name: string; id: string },
  maxBytes: number,
): Promise<DnsFact> {
  const head = { container: container.name, containerId: container.id, pid: access.pid };
  try {
    const backup = await readInRoot(access, RESOLV_BACKUP, maxBytes);
    const resolv = backup === null ? null : await readInRoot(access, RESOLV_CONF, maxBytes);
    return { ...head, ...compareResolv(resolv, backup) };
  } catch (err) {
    if (!(err instanceof PodPathError)) throw err; // anything else is a bug, kept visible
    return { ...head, state: 'unknown', nameservers: null, backupNameservers: null, error: { reason: err.reason, message: errorMessage(err) } };
  }
}
