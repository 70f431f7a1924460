import type { Config } from '../config.js';
import type { CommandIo } from './io.js';

export async function run(_cfg: Config, io: CommandIo): Promise<number> {
  io.err('inspect: not implemented yet\n');
  return 1;
}
