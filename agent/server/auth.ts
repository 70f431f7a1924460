/**
 * Bearer-token protection of the debug endpoints: the token is read once at start from --debug-token-file and
 * compared in constant time (both sides hashed to a fixed length, then timingSafeEqual).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { UsageError } from '../errors.js';

const MAX_TOKEN_BYTES = 4096;

export async function readTokenFile(path: string): Promise<string> {
  let raw: string;
  try {
    raw = await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`--debug-token-file: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  const token = raw.trim();
  if (token === '') throw new UsageError(`--debug-token-file: ${path} is empty`);
  if (Buffer.byteLength(token) > MAX_TOKEN_BYTES) throw new UsageError(`--debug-token-file: token longer than ${MAX_TOKEN_BYTES} bytes`);
  if (/\s/.test(token)) throw new UsageError('--debug-token-file: the token must not contain whitespace');
  return token;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

export class BearerAuth {
  private readonly expected: Buffer;
  constructor(token: string) {
    this.expected = digest(token);
  }

  /** True when the Authorization header carries exactly this token. */
  check(header: string | undefined): boolean {
    const m = /^Bearer +(\S+) *$/i.exec(header ?? '');
    const given = digest(m?.[1] ?? '');
    return timingSafeEqual(given, this.expected) && m !== null;
  }
}
