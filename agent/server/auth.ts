/**
 * Access to /debug/*: off (--debug=false), a bearer token read from --debug-token-file, or open with
 * --debug-insecure; with neither flag the endpoints exist but answer 403 (safe by default: rule text, ipset
 * members and PIDs of every pod are not for any pod that can reach the port).
 *
 * The token file is re-read when it changes: before checking a request, the file is stat'ed (at most once per
 * `recheckMs`) and read again when its identity (device, inode, size, mtime, ctime) differs from the last read. A
 * Kubernetes Secret volume replaces the file by swapping a symlink (`token -> ..data/token`), which stat follows, so
 * a rotated Secret takes effect within `recheckMs` of the kubelet's update. A file that is missing, unreadable,
 * empty, too long or contains whitespace locks the endpoints (every token rejected) until it becomes usable; the
 * change is logged once. Tokens are compared in constant time (both sides hashed to a fixed length, then
 * timingSafeEqual).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';

const MAX_TOKEN_BYTES = 4096;

export type DebugAccess =
  | { mode: 'off' }
  | { mode: 'locked' }
  | { mode: 'insecure' }
  | { mode: 'token'; token: TokenFile };

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** The token in a file's content, or why the content is not a usable token. */
export function parseToken(raw: string): { token: string } | { problem: string } {
  const token = raw.trim();
  if (token === '') return { problem: 'the file is empty' };
  if (Buffer.byteLength(token) > MAX_TOKEN_BYTES) return { problem: `the token is longer than ${MAX_TOKEN_BYTES} bytes` };
  if (/\s/.test(token)) return { problem: 'the token contains whitespace' };
  return { token };
}

/** Read at most `limit` bytes of a file (a token file that is a huge file or a device cannot make us read it all). */
async function readCapped(path: string, limit: number): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(limit);
    let n = 0;
    while (n < limit) {
      const { bytesRead } = await fh.read(buf, n, limit - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    return buf.subarray(0, n).toString('utf8');
  } finally {
    await fh.close();
  }
}

/** The `Authorization: Bearer <token>` value, or '' when the header has another shape. */
function bearer(header: string | undefined): string {
  return /^Bearer +(\S+) *$/i.exec(header ?? '')?.[1] ?? '';
}

export interface TokenFileOptions {
  log: Logger;
  /** Minimum time between two stats of the file (default 1 s). */
  recheckMs?: number;
  /** Monotonic clock in ms (default performance.now; tests step it to cross `recheckMs` exactly). */
  now?: () => number;
}

export class TokenFile {
  private expected: Buffer | null = null;
  /** Identity of the file content `expected` came from ('' before the first read). */
  private identity = '';
  /** Why the endpoints are locked, '' when a token is loaded; logged on change. */
  private problem = '';
  private checkedAt = -Infinity;
  private refreshing: Promise<void> | null = null;
  private readonly recheckMs: number;
  private readonly now: () => number;

  constructor(
    readonly path: string,
    private readonly opts: TokenFileOptions,
  ) {
    this.recheckMs = opts.recheckMs ?? 1000;
    this.now = opts.now ?? (() => performance.now());
  }

  /** True when a token is loaded (after the last refresh). */
  get loaded(): boolean {
    return this.expected !== null;
  }

  /** Why no token is loaded, or '' when one is. */
  get lockedBecause(): string {
    return this.problem;
  }

  /** Stat the file now and re-read it if it changed (single-flight). */
  refresh(): Promise<void> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  /** True when the Authorization header carries exactly the current token. */
  async check(header: string | undefined): Promise<boolean> {
    if (this.now() - this.checkedAt >= this.recheckMs) await this.refresh();
    const given = digest(bearer(header));
    const expected = this.expected;
    // Always compare (constant time whatever the header), then require a loaded token and a well-formed header.
    const same = timingSafeEqual(given, expected ?? digest(''));
    return same && expected !== null && bearer(header) !== '';
  }

  private async doRefresh(): Promise<void> {
    this.checkedAt = this.now();
    let identity: string;
    try {
      const st = await stat(this.path);
      if (!st.isFile()) return this.lock(`${this.path} is not a regular file`, 'not-a-file');
      identity = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
    } catch (err) {
      return this.lock(`cannot stat ${this.path}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`, 'stat-failed');
    }
    if (identity === this.identity) return;
    let raw: string;
    try {
      raw = await readCapped(this.path, MAX_TOKEN_BYTES + 64);
    } catch (err) {
      return this.lock(`cannot read ${this.path}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`, 'read-failed');
    }
    const parsed = parseToken(raw);
    if ('problem' in parsed) return this.lock(`${this.path}: ${parsed.problem}`, identity);
    const reloaded = this.identity !== '';
    this.expected = digest(parsed.token);
    this.identity = identity;
    if (this.problem !== '' || reloaded) this.opts.log.info({ tokenFile: this.path }, 'debug token loaded');
    this.problem = '';
  }

  private lock(problem: string, identity: string): void {
    this.expected = null;
    this.identity = identity;
    if (problem !== this.problem) this.opts.log.warn({ tokenFile: this.path, problem }, '/debug/* locked: no usable token');
    this.problem = problem;
  }
}
