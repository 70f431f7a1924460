/**
 * Entry point: parse flags (config.ts) and dispatch to one module per subcommand in commands/.
 * Exit codes: 0 success, 1 failure (nothing reachable / inspected), 2 usage error.
 * `main` only returns the code (the code cache's training runs it in-process); `run`, the launcher's entry, also ends
 * the process of a one-shot command once its answer is out (exit.ts), whatever its abandoned reads still hold.
 */
import { loadConfig, helpText } from './config.js';
import { UsageError, errorMessage } from './errors.js';
import { createLogger } from './log.js';
import type { Command, CommandIo } from './commands/io.js';

const commands: Record<string, () => Promise<{ run: Command }>> = {
  runtimes: () => import('./commands/runtimes.js'),
  pods: () => import('./commands/pods.js'),
  inspect: () => import('./commands/inspect.js'),
  metrics: () => import('./commands/metrics.js'),
  serve: () => import('./commands/serve.js'),
  diff: () => import('./commands/diff.js'),
};

interface Outcome {
  code: number;
  /** Every command but `serve` (`serve --help` and a usage error are one-shot too): the process ends with the answer. */
  oneShot: boolean;
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return (await execute(argv, env)).code;
}

/** bin/chaos-node-agent.js: main(), the exit code set; a one-shot command's process then ends (exit.ts). */
export async function run(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  // A one-shot answer piped into a reader that stops early (`pods | head`): nobody wants the rest, so end quietly, as
  // a tool killed by SIGPIPE would, instead of dying on an unhandled 'error' event with a stack trace. (`serve` logs
  // on stdout: a log reader going away must not stop it.)
  const oneShot = !argv.includes('serve');
  if (oneShot) process.stdout.on('error', onStdoutError);
  let outcome: Outcome;
  try {
    outcome = await execute(argv, env);
  } catch (err) {
    process.stderr.write(`chaos-node-agent: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    outcome = { code: 1, oneShot };
  }
  process.exitCode = outcome.code;
  // Loaded at the end (its own chunk in the bundle, with libc's): nothing before the answer pays for it.
  if (outcome.oneShot) await (await import('./exit.js')).exitOneShot(outcome.code);
}

function onStdoutError(err: NodeJS.ErrnoException): void {
  if (err.code === 'EPIPE') {
    // process.exitCode stays what the command set (0 until it ends); the answer's reader is gone, nothing to flush.
    void import('./exit.js').then((m) => m.exitOneShot(Number(process.exitCode ?? 0)));
    return;
  }
  process.stderr.write(`chaos-node-agent: cannot write the answer: ${err.message}\n`);
  process.exitCode = 1;
}

async function execute(argv: string[], env: NodeJS.ProcessEnv): Promise<Outcome> {
  let cfg;
  try {
    cfg = loadConfig(argv, env);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`chaos-node-agent: ${err.message}\n`);
      return { code: 2, oneShot: true };
    }
    throw err;
  }
  if (cfg.help) {
    process.stdout.write(helpText());
    return { code: 0, oneShot: true };
  }
  const oneShot = cfg.command !== 'serve';
  const controller = new AbortController();
  // `on`, not `once`: execa re-sends SIGTERM to the process when it sees no other listener left.
  const stop = (): void => controller.abort();
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const io: CommandIo = {
    out: (t) => void process.stdout.write(t),
    err: (t) => void process.stderr.write(t),
    log: createLogger(cfg.logLevel),
    env,
    signal: controller.signal,
  };
  try {
    const mod = await commands[cfg.command]!();
    return { code: await mod.run(cfg, io), oneShot };
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`chaos-node-agent: ${err.message}\n`);
      return { code: 2, oneShot };
    }
    io.err(`chaos-node-agent ${cfg.command}: ${errorMessage(err)}\n`);
    return { code: 1, oneShot };
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
}
