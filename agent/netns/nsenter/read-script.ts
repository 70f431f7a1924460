/**
 * The constant bash script of the one-process namespace read, run by a netns worker (worker-script.ts) as
 *   timeout ... nsenter --net=<netns> -- /bin/bash -c READ_SCRIPT bash <boundary> <step>...   (stdin: /dev/null)
 * It is a string literal, never built from data. The only data it receives are positional arguments: a random
 * hex boundary token (checked by the script) and step tokens from STEP_TOOLS (the runner refuses anything else;
 * the script's `case` refuses anything else too). Each step maps to fixed command lines. Every tool runs in a
 * frame (frames.ts): begin/end marker lines carrying $EPOCHREALTIME, which costs no exec, so each tool's duration
 * and exit status survive the single spawn.
 *
 * Steps:
 * - legacy4 / legacy6: iptables-legacy-save -c / ip6tables-legacy-save -c.
 * - nft: `nft list tables` (frame `nft`), then iptables-nft-save -c / ip6tables-nft-save -c only for the families
 *   (ip / ip6) that hold an xtables table (filter, nat, mangle, raw, security). nft missing from PATH: frame `nft`
 *   with status 127 and "failed to execute nft: command not found"; nft failing: both saves run.
 * - nft-all: both nft saves, no probe (exhaustive reads, or nft known to be missing).
 * - tc-auto: the script builds the tc batch itself from /proc/self/net/dev inside the namespace (`qdisc show`,
 *   then `class show dev X` + `filter show dev X` per interface whose name is at most 15 bytes without
 *   whitespace, / : " \ and is not . or ..), prints it in frame `tc-batch`, then runs `tc -s -d -raw -j -batch -`
 *   on it (frame `tc`; -raw makes tc print tbf's bucket in ticks and its limit: exact burst and limit, as the netlink
 *   reader has them). (There is no step taking the batch on stdin: a worker request has no stdin.)
 * - ipset: `ipset save`.
 * - ipset-if-tables: `ipset save` only if an xtables table exists: a legacy one (/proc/self/net/ip{,6}_tables_names
 *   is not empty, read by bash without an exec) or an nf_tables one found by an earlier `nft` step. It does not
 *   look at tc filters or at nft-all output (it cannot without holding the output in memory): the caller runs
 *   ipset in a second spawn when those turn out to need it.
 * - iprule4 / iprule6: `ip rule show` / `ip -6 rule show` (frames ip-rule, ip6-rule).
 */

/** Step token -> the tools it can run (the runner's timeout and output cap scale with their number). */
export const STEP_TOOLS = {
  legacy4: ['iptables-legacy-save'],
  legacy6: ['ip6tables-legacy-save'],
  nft: ['nft', 'iptables-nft-save', 'ip6tables-nft-save'],
  'nft-all': ['iptables-nft-save', 'ip6tables-nft-save'],
  'tc-auto': ['tc'],
  ipset: ['ipset'],
  'ipset-if-tables': ['ipset'],
  iprule4: ['ip'],
  iprule6: ['ip'],
} as const satisfies Record<string, readonly string[]>;

export type ScriptStep = keyof typeof STEP_TOOLS;

export function isScriptStep(s: unknown): s is ScriptStep {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(STEP_TOOLS, s);
}

/** Frame name -> tool label (chaos_daemon_netns_command_duration_seconds{tool}); null: no tool ran (tc-batch). */
export const FRAME_TOOL: Readonly<Record<string, string | null>> = {
  nft: 'nft',
  'iptables-nft-save': 'iptables-nft-save',
  'ip6tables-nft-save': 'ip6tables-nft-save',
  'iptables-legacy-save': 'iptables-legacy-save',
  'ip6tables-legacy-save': 'ip6tables-legacy-save',
  tc: 'tc',
  'tc-batch': null,
  ipset: 'ipset',
  'ip-rule': 'ip',
  'ip6-rule': 'ip',
};

/** Exit status the script gives a tool it could not find (bash's own 127). */
export const NOT_FOUND_STATUS = 127;

/** Escaped for a template literal: `\\` is one backslash, `\${` is `${` (no interpolation anywhere). */
export const READ_SCRIPT = `set -f
B=$1
shift
if [[ ! $B =~ ^[0-9a-f]{16,64}$ ]]; then
  printf 'read-script: invalid boundary\\n' >&2
  exit 2
fi
nft_tables=0
nft_re='^[[:space:]]*table (ip|ip6) (filter|nat|mangle|raw|security)[[:space:]]*$'
ifname_re='^[[:space:]]*([^[:space:]]+)[[:space:]]*$'
ifname_bad='[/:"\\]'

frame_begin() {
  local t=$EPOCHREALTIME
  printf '\\n%s begin %s %s\\n' "$B" "$1" "$t"
  printf '\\n%s begin %s %s\\n' "$B" "$1" "$t" >&2
}

frame_end() {
  printf '\\n%s end %s %s %s\\n' "$B" "$1" "$2" "$EPOCHREALTIME"
}

# run_tool FRAME COMMAND ARGS...: one fixed command line in its frame, stdin from /dev/null.
run_tool() {
  local f=$1 st
  shift
  frame_begin "$f"
  "$@" </dev/null
  st=$?
  frame_end "$f" "$st"
}

legacy_tables() {
  local f l
  for f in /proc/self/net/ip_tables_names /proc/self/net/ip6_tables_names; do
    [[ -r $f ]] || continue
    while IFS= read -r l; do
      [[ -n $l ]] && return 0
    done < "$f"
  done
  return 1
}

step_nft() {
  local out st line v4=1 v6=1
  if ! command -v nft >/dev/null 2>&1; then
    frame_begin nft
    printf 'failed to execute nft: command not found\\n' >&2
    frame_end nft 127
  else
    frame_begin nft
    out=$(nft list tables </dev/null)
    st=$?
    [[ -z $out ]] || printf '%s\\n' "$out"
    frame_end nft "$st"
    if (( st == 0 )); then
      v4=0
      v6=0
      # Split on newlines in this shell (set -f: no globbing), without forking a reader.
      local IFS=$'\\n'
      for line in $out; do
        if [[ $line =~ $nft_re ]]; then
          if [[ \${BASH_REMATCH[1]} == ip ]]; then v4=1; else v6=1; fi
        fi
      done
      IFS=$' \\t\\n'
      if (( v4 || v6 )); then nft_tables=1; fi
    fi
  fi
  if (( v4 )); then run_tool iptables-nft-save iptables-nft-save -c; fi
  if (( v6 )); then run_tool ip6tables-nft-save ip6tables-nft-save -c; fi
}

step_tc_auto() {
  local batch='qdisc show' line name skip=2 st
  if [[ -r /proc/self/net/dev ]]; then
    while IFS= read -r line; do
      if (( skip > 0 )); then skip=$(( skip - 1 )); continue; fi
      [[ $line == *:* ]] || continue
      name=\${line%%:*}
      [[ $name =~ $ifname_re ]] || continue
      name=\${BASH_REMATCH[1]}
      (( \${#name} <= 15 )) || continue
      [[ $name == . || $name == .. || $name =~ $ifname_bad ]] && continue
      printf -v batch '%s\\nclass show dev %s\\nfilter show dev %s' "$batch" "$name" "$name"
    done < /proc/self/net/dev
  fi
  frame_begin tc-batch
  printf '%s\\n' "$batch"
  frame_end tc-batch 0
  frame_begin tc
  # A here-string, not a pipe: no subshell fork for the batch.
  tc -s -d -raw -j -batch - <<<"$batch"
  st=$?
  frame_end tc "$st"
}

for step in "$@"; do
  case $step in
    legacy4) run_tool iptables-legacy-save iptables-legacy-save -c ;;
    legacy6) run_tool ip6tables-legacy-save ip6tables-legacy-save -c ;;
    nft) step_nft ;;
    nft-all)
      run_tool iptables-nft-save iptables-nft-save -c
      run_tool ip6tables-nft-save ip6tables-nft-save -c
      ;;
    tc-auto) step_tc_auto ;;
    ipset) run_tool ipset ipset save ;;
    ipset-if-tables)
      if (( nft_tables )) || legacy_tables; then run_tool ipset ipset save; fi
      ;;
    iprule4) run_tool ip-rule ip rule show ;;
    iprule6) run_tool ip6-rule ip -6 rule show ;;
    *)
      printf 'read-script: unknown step\\n' >&2
      exit 2
      ;;
  esac
done
printf '\\n%s done %s\\n' "$B" "$EPOCHREALTIME"
`;
