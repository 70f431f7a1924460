/**
 * Gating for integration tests. On a laptop a test that needs root or a missing package is skipped with a
 * printed reason; with CI=true the same condition is a failing test, so CI can never pass by skipping.
 */
import { execFileSync } from 'node:child_process';
import { describe, it } from 'vitest';

export interface Needs {
  root?: boolean;
  /** Executables that must be on PATH. */
  commands?: string[];
  /** A requirement the caller checked itself: why it is unmet (null or absent: met). */
  unmet?: string | null;
}

export function isCI(): boolean {
  return process.env.CI === 'true' || process.env.CI === '1';
}

export function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v "$1"', 'sh', cmd], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false; // `command -v` exits non-zero: not on PATH
  }
}

export function missing(needs: Needs): string | null {
  const why: string[] = [];
  if (needs.root && process.getuid?.() !== 0) why.push('needs root');
  for (const c of needs.commands ?? []) if (!hasCommand(c)) why.push(`needs ${c} on PATH`);
  if (needs.unmet) why.push(needs.unmet);
  return why.length ? why.join(', ') : null;
}

/**
 * `describe` that runs only when `needs` are met. Otherwise: skipped with the reason printed, or, under CI,
 * a single failing test carrying the reason.
 */
export function describeIntegration(name: string, needs: Needs, fn: () => void): void {
  const reason = missing(needs);
  if (reason === null) {
    describe(name, fn);
    return;
  }
  if (isCI()) {
    describe(name, () => {
      it('has its requirements (CI=true makes a skip a failure)', () => {
        throw new Error(`${name}: ${reason}`);
      });
    });
    return;
  }
  process.stderr.write(`[skip] ${name}: ${reason}\n`);
  describe.skip(name, fn);
}

export { uniqueName } from './names.js';
