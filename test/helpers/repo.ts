/** Paths of the repository, found from this file whether it runs from test/helpers or dist/test/helpers. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the first directory above this file holding bin/chaos-node-agent.js. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'bin', 'chaos-node-agent.js'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('bin/chaos-node-agent.js not found above test/helpers');
    dir = up;
  }
  return dir;
}

/** The agent's CLI entry point. */
export const CLI = join(repoRoot(), 'bin', 'chaos-node-agent.js');
