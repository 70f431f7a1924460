/** Loading the captured netlink fixtures (test/fixtures/netlink, README there). */
import { readFileSync } from 'node:fs';
import { splitMessages, type NlMessage } from '../../../agent/netns/netlink/nlmsg.js';

const dir = new URL('../../fixtures/netlink/', import.meta.url);

/** Every message of a `.hex` fixture (one message per line, `#` comments). */
export function hexMessages(name: string): NlMessage[] {
  const lines = readFileSync(new URL(name, dir), 'utf8').split('\n').filter((l) => l.length > 0 && !l.startsWith('#'));
  return lines.flatMap((l) => splitMessages(Buffer.from(l, 'hex')));
}

/** The hex lines of a fixture as buffers (for payloads that are not whole messages). */
export function hexLines(name: string): Buffer[] {
  return readFileSync(new URL(name, dir), 'utf8').split('\n').filter((l) => l.length > 0 && !l.startsWith('#')).map((l) => Buffer.from(l, 'hex'));
}

export function toolsJson<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(name, dir), 'utf8')) as T;
}

/** A copy without `options` (each reader's raw view, never compared) on every element. */
export function withoutOptions<T extends { options?: unknown }>(xs: T[]): Omit<T, 'options'>[] {
  return xs.map(({ options: _options, ...rest }) => rest);
}
