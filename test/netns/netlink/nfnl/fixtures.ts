/** Loads the captured nfnetlink fixtures of test/fixtures/netlink/{nft,ipset} (see the README there). */
import { readFileSync } from 'node:fs';
import type { NlMessage } from '../../../../agent/netns/netlink/nlmsg.js';

const dir = new URL('../../../fixtures/netlink/', import.meta.url);

export function fixtureText(path: string): string {
  return readFileSync(new URL(path, dir), 'utf8');
}

/** One message per line: `<nlmsg type> <nlmsg flags> <payload hex>`. */
export function fixtureMessages(path: string): NlMessage[] {
  return fixtureText(path)
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const [type, flags, hex] = l.split(' ') as [string, string, string];
      return { type: Number(type), flags: Number(flags), seq: 0, pid: 0, payload: Buffer.from(hex, 'hex') };
    });
}

/** The ipset index -> name map captured with a fixture, as an XtContext. */
export function fixtureSetNames(path: string): { setName(index: number): string | null } {
  const names = JSON.parse(fixtureText(path)) as Record<string, string>;
  return { setName: (i) => names[String(i)] ?? null };
}
