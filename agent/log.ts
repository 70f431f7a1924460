import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/**
 * Structured JSON logs on stderr (stdout is reserved for command output).
 * Quiet by default: `info` for the server, `warn` for one-shot CLI commands.
 */
export function createLogger(level: LevelWithSilent = 'info'): Logger {
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

/** A logger that drops everything, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
