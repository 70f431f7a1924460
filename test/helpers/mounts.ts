/** Mount points of this process's mount namespace, for harness cleanup (containerd.ts, dockerd.ts). */
import { readFileSync } from 'node:fs';

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
