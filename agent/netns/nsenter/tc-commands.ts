/**
 * The tc commands the tools reader runs, and which of them may go into the text of a `tc -batch -` input.
 *
 * iproute2 reads a batch line with getcmdline + makeargs (lib/utils.c), which is not a plain word split:
 * - getcmdline cuts the line at its first `#` (a comment) and joins a line ending in `\` with the next one;
 * - makeargs splits words at space, tab, CR and LF, and a word that begins with `'` or `"` is a quoted string that
 *   ends at the next same quote (the quotes dropped); a quote that never closes makes tc print
 *   "Unterminated quoted string" and exit 1, ending the whole batch.
 * Linux allows all of these bytes in interface names (dev_valid_name refuses only `/`, `:`, whitespace, "." and
 * ".."), so a name must not be written into batch text just because the kernel took it. Checked on iproute2 6.1:
 * `class show dev eth0#x` reads eth0, `class show dev 'eth0'` reads eth0 (both exit 0: silently another device),
 * `class show dev 'qy` ends the batch with exit 1; `q'x` (a quote inside a word) happens to survive.
 *
 * So the batch takes only names made of `[A-Za-z0-9_.@+=-]` (the names CNIs, Docker and Chaos Mesh give: eth0,
 * veth*, cali*, flannel.1, kube-ipvs0, cilium_host): none of those characters is a comment, a quote, a continuation or a separator, and all are ASCII, so
 * such a name is one batch word, read byte for byte. Every other name Linux allows is read by tc processes of its
 * own, one per command (tcArgv: the name is one argv element, never parsed as batch text), so no interface is left
 * unread; names no Linux interface can have are not asked at all (`rejected`: the caller reports tc incomplete).
 */
import type { FilterParent } from '../model/filter-parents.js';

export interface TcBatchCommand {
  kind: 'qdisc' | 'class' | 'filter';
  /** The device the command named (`class show dev eth0`); empty for `qdisc show` of every device. */
  dev: string;
  /** Filters: the parent the command named (`ingress`, `egress`, `1:4`); none for the root qdisc's filters. */
  parent?: string;
}

/** What tc is asked for: the batch (one process), the commands run one process each, in the order of `order`. */
export interface TcCommandPlan {
  /** Every command asked, in the order their results are reported (the order a single batch would give). */
  order: TcBatchCommand[];
  /** The commands of the batch, in order (a subset of `order`), and its input ('' when none). */
  commands: TcBatchCommand[];
  input: string;
  /** The commands whose device name batch text would mangle: one `tc` process each (tcArgv). */
  single: TcBatchCommand[];
  /** Names no Linux interface can have (and parents that are no tc handle): not asked; tc is then not complete. */
  rejected: string[];
}

/** tc's options for every read: statistics, details, raw handles and burst ticks, JSON. */
const TC_OPTIONS = ['-s', '-d', '-raw', '-j'] as const;
/** The argv of a batch: its commands come on stdin. */
export const TC_BATCH_ARGV: readonly string[] = ['tc', ...TC_OPTIONS, '-batch', '-'];

/** Bytes the kernel refuses in a name (dev_valid_name: `/`, `:`, isspace), and NUL, which no argv can hold. */
const NOT_IN_A_NAME = /[\0\t\n\v\f\r /:]/;

/** A name a Linux interface can have: 1-15 bytes (IFNAMSIZ 16 with its NUL), not "." or "..", no `/`, `:`, whitespace. */
export function isValidInterfaceName(name: string): boolean {
  return name.length > 0 && Buffer.byteLength(name, 'utf8') <= 15 && name !== '.' && name !== '..' && !NOT_IN_A_NAME.test(name);
}

const BATCH_SAFE = /^[A-Za-z0-9_.@+=-]{1,15}$/;

/** A name that survives iproute2's batch line parsing unchanged (see the file comment): it may be written in batch text. */
export function isBatchSafeInterfaceName(name: string): boolean {
  return BATCH_SAFE.test(name) && name !== '.' && name !== '..';
}

/** `1:`, `1:4`, `ffff:fff2`: a handle a command may name. */
const HANDLE = /^[0-9a-f]{1,4}:[0-9a-f]{0,4}$/;
const isHook = (parent: string): boolean => parent === 'ingress' || parent === 'egress';

/** The words of a command after tc's options: `filter show dev eth0 parent 1:4`. */
function words(cmd: TcBatchCommand): string[] {
  const w = [cmd.kind, 'show'];
  if (cmd.dev !== '') w.push('dev', cmd.dev);
  if (cmd.parent !== undefined) w.push(...(isHook(cmd.parent) ? [cmd.parent] : ['parent', cmd.parent]));
  return w;
}

/** The argv that runs one command in a tc process of its own: the device name is one argument, whatever it holds. */
export function tcArgv(cmd: TcBatchCommand): string[] {
  return ['tc', ...TC_OPTIONS, ...words(cmd)];
}

/** How a command is named in messages (`class show dev eth0`). */
export function tcCommandLabel(cmd: TcBatchCommand): string {
  return words(cmd).join(' ');
}

interface Group {
  /** The device the commands name. */
  dev: string;
  cmds: TcBatchCommand[];
  /** False: not asked, reported in `rejected` as `label`. */
  valid: boolean;
  label: string;
}

/** Builds a plan from commands grouped by the device they name, in order. */
function plan(groups: Group[], always: TcBatchCommand[] = []): TcCommandPlan {
  const p: TcCommandPlan = { order: [...always], commands: [...always], input: '', single: [], rejected: [] };
  for (const g of groups) {
    if (!g.valid) {
      p.rejected.push(g.label);
      continue;
    }
    p.order.push(...g.cmds);
    (isBatchSafeInterfaceName(g.dev) ? p.commands : p.single).push(...g.cmds);
  }
  p.input = p.commands.length > 0 ? `${p.commands.map(tcCommandLabel).join('\n')}\n` : '';
  return p;
}

/**
 * One batch that reads `devs`: `qdisc show` of every device, then `class show` + `filter show` per device (the
 * root qdisc's filters only). Devices whose name batch text would mangle are in `single`.
 */
export function tcBatchCommands(devs: string[]): TcCommandPlan {
  return plan(
    devs.map((d) => ({ dev: d, valid: isValidInterfaceName(d), label: d, cmds: [{ kind: 'class', dev: d }, { kind: 'filter', dev: d }] })),
    [{ kind: 'qdisc', dev: '' }],
  );
}

/**
 * The first of the two phases that read a whole tc tree: per device, `qdisc show dev X` then `class show dev X`.
 * The qdisc documents (JSON) separate the class texts of iproute2 6.1, which would otherwise run together; the
 * second phase (tcFilterCommands) then asks for the filters of every parent those qdiscs and classes have.
 */
export function tcTreeCommands(devs: string[]): TcCommandPlan {
  return plan(devs.map((d) => ({ dev: d, valid: isValidInterfaceName(d), label: d, cmds: [{ kind: 'qdisc', dev: d }, { kind: 'class', dev: d }] })));
}

/**
 * The second phase: the filters of every parent (model/filter-parents.ts, from the first phase's qdiscs and
 * classes): `filter show dev X ingress|egress|parent P`. A parent that is no tc handle is refused with its device.
 */
export function tcFilterCommands(parents: FilterParent[]): TcCommandPlan {
  return plan(
    parents.map((p) => ({
      dev: p.interface,
      valid: isValidInterfaceName(p.interface) && (isHook(p.parent) || HANDLE.test(p.parent)),
      label: `${p.interface} ${p.parent}`,
      cmds: [{ kind: 'filter', dev: p.interface, parent: p.parent }],
    })),
  );
}
