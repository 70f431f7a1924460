/**
 * Mount helpers: the mount points under a directory, for harness cleanup (containerd.ts, dockerd.ts); processes in
 * a private mount namespace of their own (proc/root-facts, proc/mount-events tests).
 */
import { readFileSync } from 'node:fs';
import { readFile, readlink } from 'node:fs/promises';
import { execa, type ResultPromise } from 'execa';

/**
 * Mount points at or under `dir`, deepest first (unmount order). Reads /proc/self/mountinfo, whose mount-point
 * field (the 5th) escapes space, tab, newline and backslash as \ooo octal.
 */
export function mountsUnder(dir: string): string[] {
  const text = readFileSync('/proc/self/mountinfo', 'utf8');
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const mp = line.split(' ')[4];
    if (!mp) continue;
    const path = mp.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (path === dir || path.startsWith(`${dir}/`)) out.push(path);
  }
  return out.sort((a, b) => b.length - a.length);
}

/**
 * Resolves with `pid`'s `mnt:[N]` link once it runs `comm` in a mount namespace other than `notIn` (another such
 * link); throws after 10 s.
 */
export async function untilInMountNamespace(pid: number, comm: string, notIn: string): Promise<string> {
  for (const end = Date.now() + 10_000; Date.now() < end;) {
    const now = await readFile(`/proc/${pid}/comm`, 'utf8').catch((err: unknown) => String(err));
    const ns = await readlink(`/proc/${pid}/ns/mnt`).catch((err: unknown) => String(err));
    if (now === `${comm}\n` && ns !== notIn && ns.startsWith('mnt:')) return ns;
    await new Promise((res) => setTimeout(res, 20));
  }
  throw new Error(`pid ${pid} did not run ${comm} in a mount namespace of its own within 10 s`);
}

/**
 * `unshare --mount --propagation private <argv>`, once the command runs (`comm`) in its new namespace: unshare execs
 * in place, so `pid` is the command's. The caller stops `proc`.
 */
export async function inOwnMountNamespace(argv: string[], comm: string, opts: { stdin?: 'pipe' } = {}): Promise<{ proc: ResultPromise; pid: number }> {
  const self = await readlink('/proc/self/ns/mnt');
  const proc = execa('unshare', ['--mount', '--propagation', 'private', ...argv], { reject: false, ...(opts.stdin ? { stdin: opts.stdin } : {}) });
  try {
    await untilInMountNamespace(proc.pid!, comm, self);
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  return { proc, pid: proc.pid! };
}
