/**
 * Entry point: parse flags (config.ts) and dispatch to one module per subcommand in commands/.
 * Exit codes: 0 success, 1 failure (nothing reachable / inspected), 2 usage error.
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

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let cfg;
  try {
    cfg = loadConfig(argv, env);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`chaos-node-agent: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (cfg.help) {
    process.stdout.write(helpText());
    return 0;
  }
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
    return await mod.run(cfg, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`chaos-node-agent: ${err.message}\n`);
      return 2;
    }
    io.err(`chaos-node-agent ${cfg.command}: ${errorMessage(err)}\n`);
    return 1;
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
}
