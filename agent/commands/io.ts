import type { Logger } from '../log.js';

/** What a command may touch besides its Config: output streams, a logger, and a signal to stop. */
export interface CommandIo {
  out: (text: string) => void;
  err: (text: string) => void;
  log: Logger;
  env: NodeJS.ProcessEnv;
  /** Aborted on SIGTERM/SIGINT. */
  signal: AbortSignal;
}

export type Command = (cfg: import('../config.js').Config, io: CommandIo) => Promise<number>;
