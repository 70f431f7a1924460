/**
 * JVMChaos (pkg/chaosdaemon/jvm_server.go): chaos-daemon copies byteman.jar, byteman-helper.jar and
 * chaos-agent.jar into /usr/local/byteman/lib inside the container, then `bminstall.sh -b ... -p <port> <java pid>`
 * loads the Byteman agent into the JVM, which listens on the rule port (9277 by default, localhost) in the pod's
 * network namespace; rules are then submitted to that port. Uninstall removes the rules, but neither the jars nor
 * the agent (a JVM cannot unload it): its listener stays until the JVM exits.
 *
 * So: jars + a LISTEN socket on a rule port -> `active` (a loaded Byteman agent that accepts rules from anything in
 * the pod's network namespace; whether rules are loaded now cannot be seen from /proc); jars alone ->
 * `scaffolding`; no jars -> nothing (a listener on 9277 alone is not Chaos Mesh's layout).
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { posix } from 'node:path';
import { PodPathError, errorMessage } from '../errors.js';
import { parseNetTcp, TCP_LISTEN, type TcpSocket } from './net-tcp.js';
import { statEntriesInRoot, type RootAccess } from './pod-root.js';
import { isGoneError, readCapped } from './read-capped.js';

export const BYTEMAN_LIB = '/usr/local/byteman/lib';
export const BYTEMAN_JARS = ['byteman.jar', 'byteman-helper.jar', 'chaos-agent.jar'] as const;
export const DEFAULT_JVM_PORTS: readonly number[] = [9277];

export type JvmState = 'none' | 'scaffolding' | 'active' | 'unknown';

export interface JvmListener {
  address: string;
  port: number;
  inode: number;
  /** The process holding the socket, when found among the pod's processes. */
  owner: { pid: number; comm: string } | null;
}

export interface JvmFact {
  container: string;
  containerId: string;
  pid: number;
  state: JvmState;
  /** Byteman jars present under BYTEMAN_LIB. */
  jars: string[];
  listeners: JvmListener[];
  error?: { reason: string; message: string };
}

export interface JvmOptions {
  procRoot: string;
  ports: readonly number[];
  /** Cap of each /proc/<pid>/net/tcp{,6} read (default 1 MiB). */
  maxNetBytes?: number;
}

/** Which socket inodes each candidate process holds; bounded (fds per process, processes). */
export function socketOwners(
  procRoot: string,
  candidates: readonly { pid: number; comm: string }[],
  inodes: ReadonlySet<number>,
  limits = { maxFds: 4096, maxProcesses: 256 },
): Map<number, { pid: number; comm: string }> {
  const found = new Map<number, { pid: number; comm: string }>();
  for (const p of candidates.slice(0, limits.maxProcesses)) {
    if (found.size === inodes.size) break;
    const dir = posix.join(procRoot, String(p.pid), 'fd');
    let fds: string[];
    try {
      fds = readdirSync(dir).slice(0, limits.maxFds);
    } catch (err) {
      if (isGoneError(err) || (err as NodeJS.ErrnoException).code === 'EACCES') continue;
      throw err;
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(posix.join(dir, fd));
      } catch (err) {
        if (isGoneError(err) || (err as NodeJS.ErrnoException).code === 'EACCES') continue;
        throw err;
      }
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m && inodes.has(Number(m[1]))) found.set(Number(m[1]), p);
    }
  }
  return found;
}

/** LISTEN sockets on `ports` in the network namespace of `pid`; `complete` false when a read was cut or failed. */
export function listenersOn(procRoot: string, pid: number, ports: readonly number[], maxBytes: number): { sockets: TcpSocket[]; complete: boolean; error?: string } {
  const sockets: TcpSocket[] = [];
  let complete = true;
  let error: string | undefined;
  for (const file of ['tcp', 'tcp6']) {
    try {
      const r = readCapped(posix.join(procRoot, String(pid), 'net', file), maxBytes);
      // A cut read ends mid-line: drop the partial last line.
      const text = r.truncated ? r.buf.toString('utf8').replace(/\n[^\n]*$/, '\n') : r.buf.toString('utf8');
      if (r.truncated) {
        complete = false;
        error = `/proc/${pid}/net/${file} is larger than ${maxBytes} bytes`;
      }
      for (const s of parseNetTcp(text).sockets) if (s.state === TCP_LISTEN && ports.includes(s.port)) sockets.push(s);
    } catch (err) {
      // No tcp6 file: IPv6 is disabled in this kernel (tcp is checked first, so the process itself exists).
      if (file === 'tcp6' && complete && (err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      complete = false;
      error = `/proc/${pid}/net/${file}: ${errorMessage(err)}`;
    }
  }
  return error === undefined ? { sockets, complete } : { sockets, complete, error };
}

/**
 * The container's JVMChaos facts without the listeners' owners (`owner: null`): what needs only the container's
 * root and network namespace (the root reader's worker thread reads this part; withListenerOwners the rest).
 */
export async function readJvmLayout(access: RootAccess, container: { name: string; id: string }, opts: JvmOptions): Promise<JvmFact> {
  const head = { container: container.name, containerId: container.id, pid: access.pid };
  const jars: string[] = [];
  try {
    const lib = await statEntriesInRoot(access, BYTEMAN_LIB, BYTEMAN_JARS);
    if (lib === null) return { ...head, state: 'none', jars, listeners: [] };
    for (const jar of BYTEMAN_JARS) if (lib.entries.get(jar)?.isFile()) jars.push(jar);
  } catch (err) {
    if (!(err instanceof PodPathError)) throw err;
    return { ...head, state: 'unknown', jars, listeners: [], error: { reason: err.reason, message: errorMessage(err) } };
  }
  if (jars.length === 0) return { ...head, state: 'none', jars, listeners: [] };
  const l = listenersOn(opts.procRoot, access.pid, opts.ports, opts.maxNetBytes ?? 1024 * 1024);
  const listeners = l.sockets.map((s) => ({ address: s.address, port: s.port, inode: s.inode, owner: null }));
  if (listeners.length > 0) return { ...head, state: 'active', jars, listeners };
  if (!l.complete) return { ...head, state: 'unknown', jars, listeners, error: { reason: 'truncated', message: l.error ?? 'listener read incomplete' } };
  return { ...head, state: 'scaffolding', jars, listeners };
}

/** The fact with each listener's owner looked up among the pod's processes (java first: the agent lives in the JVM). */
export function withListenerOwners(fact: JvmFact, podProcesses: () => readonly { pid: number; comm: string }[], procRoot: string): JvmFact {
  if (fact.listeners.length === 0) return fact;
  const ordered = [...podProcesses()].sort((a, b) => Number(b.comm === 'java') - Number(a.comm === 'java'));
  const owners = socketOwners(procRoot, ordered, new Set(fact.listeners.map((s) => s.inode)));
  return { ...fact, listeners: fact.listeners.map((s) => ({ ...s, owner: owners.get(s.inode) ?? null })) };
}
