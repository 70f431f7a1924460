/**
 * tcNetemTimeError (agent/intent/units.ts) against the real tc: this machine's iproute2 is 6.1, as in chaos-daemon's
 * image (debian:bookworm-slim). Each Go duration text is handed to `tc qdisc add ... netem delay TEXT` as latency and
 * as jitter, as chaos-daemon's convertNetemToArgs does, in a namespace of its own; tc either stops at its own parse
 * (`Illegal "latency"`, `Illegal N time (too large)`) or goes on to the kernel (which adds the netem, or answers that it has no netem: the parse
 * passed either way). Literal texts, then texts fast-check builds from Go's duration grammar.
 */
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseGoDuration, tcNetemTimeError } from '../../agent/intent/units.js';
import { describeIntegration } from '../helpers/env.js';
import { createNetns, destroyAll, type TestNetns } from '../helpers/netns.js';

const LITERALS = ['100ms', '1s', '1.5s', '250us', '0s', '5.s', '500ns', '250µs', '250μs', '2m', '1h', '1m30s', '1s500ms', '10.25ms', '3h2m1s',
  '274.877906s', '274.877907s', '300s', '4294s', '4295s', '42949s'];

/** Go duration texts with no sign (a sign fails chaos-daemon's comparison first): 1-3 parts of digits[.digits] and a unit. */
const goDuration = fc
  .array(
    fc.tuple(fc.nat({ max: 100_000 }), fc.option(fc.nat({ max: 999 }), { nil: undefined }), fc.constantFrom('ns', 'us', 'µs', 'μs', 'ms', 's', 'm', 'h')),
    { minLength: 1, maxLength: 3 },
  )
  .map((parts) => parts.map(([i, f, u]) => `${i}${f === undefined ? '' : `.${f}`}${u}`).join(''));

/** The model is of iproute2 6.1 (debian:bookworm-slim, chaos-daemon's image); later ones read `ns` and 64-bit times. */
function tcVersion(): string | null {
  try {
    return /iproute2-(\S+)/.exec(execFileSync('tc', ['-V'], { encoding: 'utf8', timeout: 5000 }))?.[1] ?? null;
  } catch (err) {
    void err; // no tc: the `commands` requirement says so
    return null;
  }
}
const version = tcVersion();
const unmet = version === null || version.startsWith('6.1.') || version === '6.1' ? null : `tc is iproute2 ${version}, the model is of iproute2 6.1`;

describeIntegration('netem times against the real tc (iproute2 6.1, as in chaos-daemon\'s image)', { root: true, commands: ['ip', 'tc'], unmet }, () => {
  let ns: TestNetns;
  beforeAll(async () => {
    ns = await createNetns('h12d');
  });
  afterAll(async () => {
    await destroyAll();
  });

  /** tc's own error for `text` as the latency (or, after a latency it reads, as the jitter); null when it read it. */
  const tcError = async (text: string, as: 'latency' | 'jitter'): Promise<string | null> => {
    const args = as === 'latency' ? [text] : ['100ms', text];
    const r = await ns.exec(['tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', ...args], { reject: false });
    if (r.exitCode === 0) await ns.exec(['tc', 'qdisc', 'del', 'dev', 'lo', 'root']);
    const illegal = /^Illegal .*$/m.exec(r.stderr);
    if (illegal) return illegal[0];
    // Anything else is the kernel's answer (or success): tc read the text.
    if (r.exitCode !== 0) expect(r.stderr).toMatch(/qdisc kind is unknown/);
    return null;
  };

  it.each(LITERALS)('%j: tc says what tcNetemTimeError says, as latency and as jitter', async (text) => {
    expect(parseGoDuration(text)).not.toBeNull();
    expect(await tcError(text, 'latency')).toBe(tcNetemTimeError(text));
    expect(await tcError(text, 'jitter')).toBe(tcNetemTimeError(text));
  });

  it('s, ms and us are read up to 274.877906 s (and, wrapped at 2^32 us, from 4294.967296 s); ns, µs, m, h and several parts are not', () => {
    expect(LITERALS.filter((t) => tcNetemTimeError(t) === null)).toEqual(['100ms', '1s', '1.5s', '250us', '0s', '5.s', '10.25ms', '274.877906s', '4295s']);
  });

  it('texts built from Go\'s duration grammar: tc and tcNetemTimeError agree', async () => {
    await fc.assert(
      fc.asyncProperty(goDuration, async (text) => {
        expect(parseGoDuration(text), text).not.toBeNull();
        expect(await tcError(text, 'latency'), text).toBe(tcNetemTimeError(text));
      }),
      { numRuns: 80 },
    );
  }, 60_000);
});
