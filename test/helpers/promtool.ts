/** Debian's promtool (package prometheus), run with an argument array, a timeout and an output cap. */
import { execa } from 'execa';

export interface PromtoolResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function promtool(args: string[], opts: { input?: string; cwd?: string } = {}): Promise<PromtoolResult> {
  const r = await execa('promtool', args, {
    reject: false,
    timeout: 60_000,
    maxBuffer: 16 << 20,
    ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' as const }),
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
  });
  if (r.exitCode === undefined) throw new Error(`promtool ${args.join(' ')}: did not run: ${r.message}`, { cause: r });
  return { code: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}
