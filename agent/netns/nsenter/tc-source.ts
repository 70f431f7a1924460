/**
 * The tools reader's tc source. Two phases (`-raw`: tbf's bucket in ticks and its limit, for exact burst and limit):
 * qdiscs and classes per interface, then the filters of every parent that can hold them (model/filter-parents.ts:
 * `filter show dev X` alone shows only the root qdisc's); the second runs only when there is such a parent and the
 * first completed. A phase is one `tc -batch -` process for the commands whose device name batch text keeps intact,
 * and one `tc ... show dev <name>` process per command for the others (tc-commands.ts says why), each read by the
 * same parsers; results are reported in command order (what one batch would give, and the netlink reader's order)
 * whichever process read them.
 *
 * The runs of a phase share one output cap: the processes of its single commands get what the batch left of it, so
 * odd names cannot multiply the output kept (a cut is `truncated`, as a cut batch is). They stop at the first run
 * that did not complete; each has the per-tool timeout cut to the namespace budget, like every tool run.
 */
import type { ParseError } from '../../errors.js';
import type { SourceStatus, TcDump } from '../state.js';
import { filterParents } from '../model/filter-parents.js';
import { statusOf, type ToolContext, type ToolSource } from './read-tools.js';
import { concatTcDumps, parseTcBatchPieces, tcArgv, tcCommandLabel, tcFilterCommands, tcTreeCommands, TC_BATCH_ARGV, type TcBatchCommand, type TcCommandPlan } from './tc.js';
import type { ToolRun } from './tools.js';

/** tc stops a batch at the first failing command (an interface that vanished meanwhile): its output is kept. */
const keepOutput = (r: ToolRun): boolean => r.error === null || r.truncated || r.error.reason === 'exit';

/** Run one phase: its batch, then its single commands while every run completed. */
async function runPhase(ctx: ToolContext, plan: TcCommandPlan): Promise<{ dump: TcDump; status: SourceStatus }> {
  const pieces = new Map<TcBatchCommand, TcDump>();
  const leftover: ParseError[] = [];
  const read = (r: ToolRun, commands: readonly TcBatchCommand[]): void => {
    if (!keepOutput(r)) return;
    const p = parseTcBatchPieces(r.stdout, commands);
    p.pieces.forEach((d, i) => pieces.set(commands[i]!, d));
    leftover.push(...p.leftover);
  };
  let status: SourceStatus = { source: 'tc', status: 'complete' };
  // Characters, as execa measures its maxBuffer for text output.
  let used = 0;
  if (plan.commands.length > 0) {
    const r = await ctx.run(TC_BATCH_ARGV, plan.input);
    read(r, plan.commands);
    used += r.stdout.length;
    status = statusOf('tc', r);
  }
  for (const cmd of plan.single) {
    if (status.status !== 'complete') break;
    const left = ctx.maxOutputBytes - used;
    if (left <= 0) {
      status = { source: 'tc', status: 'truncated', reason: 'output_limit', message: `output cap of ${ctx.maxOutputBytes} bytes spent before ${JSON.stringify(tcCommandLabel(cmd))}` };
      break;
    }
    const r = await ctx.run(tcArgv(cmd), undefined, left);
    read(r, [cmd]);
    used += r.stdout.length;
    status = statusOf('tc', r);
  }
  const dump = concatTcDumps(plan.order.flatMap((c) => pieces.get(c) ?? []));
  dump.errors.push(...leftover);
  return { dump, status };
}

export const tcSource: ToolSource = {
  sources: ['tc'],
  async read(ctx) {
    if (ctx.interfaces === null) {
      // Without the interface names nothing can be asked: an empty read here would claim a namespace without tc.
      const links = ctx.state.sources?.find((x) => x.source === 'links');
      return [{ source: 'tc', status: 'failed', reason: links?.reason ?? 'parse', message: 'interface names unknown (the links source failed): tc not read' }];
    }
    const tree = tcTreeCommands(ctx.interfaces);
    const t = await runPhase(ctx, tree);
    ctx.state.tc = t.dump;
    let status = t.status;
    const f = tcFilterCommands(filterParents(ctx.state.tc.qdiscs, ctx.state.tc.classes));
    if (status.status === 'complete' && f.order.length > 0) {
      const p = await runPhase(ctx, f);
      ctx.state.tc.filters.push(...p.dump.filters);
      ctx.state.tc.errors.push(...p.dump.errors);
      status = p.status;
    }
    const rejected = [...tree.rejected, ...f.rejected];
    if (rejected.length > 0 && status.status === 'complete') {
      return [{ source: 'tc', status: 'failed', reason: 'parse', message: `interface names or parents refused for tc: ${rejected.map((x) => JSON.stringify(x)).join(', ')}` }];
    }
    return [status];
  },
};
