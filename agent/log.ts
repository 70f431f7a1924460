/**
 * Structured JSON logs on stderr (stdout is reserved for command output), written by pino.
 * Quiet by default: `info` for the server, `warn` for one-shot CLI commands.
 *
 * pino (with sonic-boom and its serializers) costs ~50-80 ms of CPU to load, more than a whole `pods` answer has to
 * spare, and a one-shot command at `warn` usually logs nothing. So createLogger returns a logger that compares the
 * level itself and loads pino (synchronously, it is CommonJS) only at the first line it must write; from then on
 * every call goes to that one pino logger, so the output is pino's own, byte for byte.
 */
import { createRequire } from 'node:module';
import type { LevelWithSilent, LogFn, Logger as PinoLogger } from 'pino';

/** What the agent logs through: pino's level methods (a pino logger is one, e.g. in tests). */
export interface Logger {
  fatal: LogFn;
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
  trace: LogFn;
}

type Level = keyof Logger;
const LEVELS: readonly Level[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
/** pino's numeric levels. */
const LEVEL_VALUES: Record<LevelWithSilent, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

/** The real pino logger: same options as ever (level labels, ISO time, `app`, synchronous writes to fd 2). */
function pinoLogger(level: LevelWithSilent): PinoLogger {
  const pino = createRequire(import.meta.url)('pino') as typeof import('pino').pino;
  return pino(
    {
      level,
      base: { app: 'chaos-node-agent' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ fd: 2, sync: true }),
  );
}

/**
 * A logger at `level`; pino is loaded at the first call at or above it. `make` builds the real logger (tests pass one
 * writing to a buffer); it is called at most once.
 */
export function createLogger(level: LevelWithSilent = 'info', make: (level: LevelWithSilent) => Logger = pinoLogger): Logger {
  const threshold = LEVEL_VALUES[level];
  let real: Logger | null = null;
  const method = (name: Level): LogFn => {
    if (LEVEL_VALUES[name] < threshold) return () => undefined;
    return ((...args: Parameters<LogFn>) => {
      real ??= make(level);
      real[name](...args);
    }) as LogFn;
  };
  return Object.fromEntries(LEVELS.map((l) => [l, method(l)])) as unknown as Logger;
}

/** A logger that drops everything, for tests and library use. */
export function silentLogger(): Logger {
  return createLogger('silent');
}
