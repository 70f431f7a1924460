/**
 * The `rule` label of chaos_daemon_iptables_packets / _packet_bytes exactly as chaos-daemon builds it, so that the
 * same state gives the same series. chaos-daemon (pkg/metrics/chaos-daemon.go, pkg/metrics/utils/iptables.go) runs
 * `iptables-save -c` and parses it with github.com/retailnext/iptables_exporter v0.1.0 (iptables/ruleparser.go): a
 * rule line is split on whitespace (strings.Fields: quotes are NOT honoured); a token starting with `[` is the
 * counters; a token starting with `-` starts a flag, which collects the following tokens that do not; the `-A` /
 * `--append` flag keeps only its first value (the chain name) and drops the rest (so `-A INPUT ! -i lo` loses its
 * `!`); every other flag is kept with its values, all joined by single spaces. PURE; our own code.
 */

/** chaos-daemon's `rule` label for a rule printed by iptables-save as `-A <chain> <text>`. */
export function chaosDaemonRuleLabel(text: string): string {
  const out: string[] = [];
  let flag: string | null = null;
  let values: string[] = [];
  let append = true; // the line starts with `-A <chain>`: its values (chain name, a leading `!`) are dropped
  const flush = (): void => {
    if (flag !== null && !append) out.push(flag, ...values);
    flag = null;
    values = [];
  };
  for (const token of text.split(/\s+/)) {
    if (token === '') continue;
    if (token.startsWith('[')) continue; // counters, wherever they appear
    if (token.startsWith('-')) {
      flush();
      append = token === '-A' || token === '--append';
      flag = token;
      continue;
    }
    values.push(token);
  }
  flush();
  return out.join(' ');
}
