/**
 * What a hostile pod with NET_ADMIN can put in its own network namespace, built for real (test/faults/hostile-pods):
 * 150k iptables rules per backend, 100k ipset members, 10k qdiscs, and rule comments and interface names holding
 * quotes, `#`, backslashes and the longest strings the kernel takes. Loaded through the restore tools and `tc -batch`
 * (seconds, not minutes); the generators are pure.
 */
import { execa } from 'execa';

/** The longest comment the kernel keeps: XT_MAX_COMMENT_LEN (256) and IPSET_MAX_COMMENT_SIZE (255) count the NUL. */
export const MAX_COMMENT = 255;
/** Interface names (IFNAMSIZ 16 with the NUL) with a quote, `#` and backslashes. */
export const WEIRD_LINKS = ['q"#\\x', 'a\\b#c'] as const;

/** One spam rule of an iptables-restore file (plain comment: restore's own quoting is not what is tested). */
function spamRule(chain: string, i: number): string {
  return `-A ${chain} -s 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32 -p tcp -m tcp --dport ${1 + (i % 65000)} -m comment --comment "spam ${i}" -j ACCEPT`;
}

/** An iptables-restore file for the filter table: chain `chain` with `count` rules (with the base chains when `base`). */
export function spamRestore(chain: string, count: number, first = 0, base = true): string {
  const lines = ['*filter'];
  if (base) lines.push(':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]');
  lines.push(`:${chain} - [0:0]`);
  for (let i = first; i < first + count; i++) lines.push(spamRule(chain, i));
  lines.push('COMMIT', '');
  return lines.join('\n');
}

/** `ipset restore` input: a hash:ip set with `count` members, each with a comment of `#`, backslashes and filler. */
export function spamIpset(name: string, count: number): string {
  const lines = [`create ${name} hash:ip family inet hashsize 65536 maxelem ${count * 2} comment`];
  for (let i = 0; i < count; i++) lines.push(`add ${name} 10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255} comment "#${i}\\\\x"`);
  lines.push('');
  return lines.join('\n');
}

/**
 * `tc -batch` input: per interface an htb root 1: with `perLink` classes, each with a pfifo leaf (perLink + 1 qdiscs).
 * Plain names only: tc's batch reader cuts a line at `#` (the weird links get their qdisc through argv).
 */
export function spamTc(links: readonly string[], perLink: number): string {
  const lines: string[] = [];
  for (const dev of links) {
    lines.push(`qdisc add dev ${dev} root handle 1: htb default 1`);
    for (let c = 1; c <= perLink; c++) {
      lines.push(`class add dev ${dev} parent 1: classid 1:${c.toString(16)} htb rate 1mbit`);
      lines.push(`qdisc add dev ${dev} parent 1:${c.toString(16)} handle ${(c + 1).toString(16)}: pfifo limit 10`);
    }
  }
  lines.push('');
  return lines.join('\n');
}

/** Rules (argv after `iptables -A`) whose interface names and comments hold quotes, `#`, backslashes, 255 bytes. */
export function weirdRules(chain: string): string[][] {
  const long = `x"y#z\\w'`;
  return [
    [chain, '-i', WEIRD_LINKS[0], '-m', 'comment', '--comment', long + 'L'.repeat(MAX_COMMENT - long.length), '-j', 'DROP'],
    [chain, '-o', WEIRD_LINKS[1], '-m', 'comment', '--comment', '# "quoted" \\\\ back', '-j', 'ACCEPT'],
    [chain, '-m', 'comment', '--comment', '"'.repeat(MAX_COMMENT), '-j', 'RETURN'],
  ];
}

/** Run a command in a namespace file through nsenter (argument array, timeout, output kept small); throws on failure. */
/** The xtables lock file of the hostile restores (remove it after the test). */
export const HOSTILE_XTABLES_LOCK = `/run/cna-hostile-${process.pid}.xtables.lock`;

export async function inNetns(path: string, argv: string[], input?: string, timeoutMs = 180_000): Promise<void> {
  const r = await execa('nsenter', [`--net=${path}`, '--', ...argv], {
    reject: false,
    timeout: timeoutMs,
    maxBuffer: 1 << 20,
    // A lock file of our own: iptables-legacy's default /run/xtables.lock is one for the whole machine, and a
    // 150k-rule restore would hold it for seconds against every other test's iptables calls. The lock only orders
    // writers in user space; each namespace's tables are replaced atomically by the kernel anyway.
    env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C', XTABLES_LOCKFILE: HOSTILE_XTABLES_LOCK },
    extendEnv: false,
    ...(input !== undefined ? { input } : { stdin: 'ignore' as const }),
  });
  if (r.exitCode !== 0) throw new Error(`${argv.join(' ')} in ${path} failed (${r.exitCode ?? r.signal}): ${String(r.stderr).slice(0, 500)}`, { cause: r });
}
