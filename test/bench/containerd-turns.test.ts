/**
 * containerd-turns.ts, the test containerd's pod creations against its stop (bench/profile.ts stopped by SIGINT while
 * it creates its pods left them all behind): at most `limit` at once; close() refuses every creation not started and
 * resolves only once those under way have settled, so that a pod whose creation ends after the stop began is still
 * there for the stop to remove. Fake creations, settled by hand.
 */
import { describe, expect, it } from 'vitest';
import { CreationTurns, HarnessStoppingError } from '../helpers/containerd-turns.js';

/** A creation the test settles: `started` says whether it ran. */
function creation(name: string): { started: boolean; finish: () => void; fail: () => void; create: () => Promise<string> } {
  const c = {
    started: false,
    finish: (): void => undefined,
    fail: (): void => undefined,
    create: (): Promise<string> => new Promise<string>((resolve, reject) => {
      c.started = true;
      c.finish = () => resolve(name);
      c.fail = () => reject(new Error(`${name} failed`));
    }),
  };
  return c;
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('CreationTurns', () => {
  it('runs at most `limit` creations at once; the next starts when one settles', async () => {
    const turns = new CreationTurns(2);
    const [a, b, c] = [creation('a'), creation('b'), creation('c')];
    const runs = [turns.run('a', a.create), turns.run('b', b.create), turns.run('c', c.create)];
    await tick();
    expect([a.started, b.started, c.started]).toEqual([true, true, false]);
    a.fail();
    await tick();
    expect(c.started).toBe(true);
    b.finish();
    c.finish();
    expect(await Promise.allSettled(runs)).toEqual([
      { status: 'rejected', reason: new Error('a failed') },
      { status: 'fulfilled', value: 'b' },
      { status: 'fulfilled', value: 'c' },
    ]);
  });

  it('close() refuses what has not started and resolves only once the creations under way have settled', async () => {
    const turns = new CreationTurns(2);
    const [a, b, c] = [creation('a'), creation('b'), creation('c')];
    const runs = [turns.run('pod a', a.create), turns.run('pod b', b.create), turns.run('pod c', c.create)];
    await tick();
    let closed = false;
    const closing = turns.close().then(() => {
      closed = true;
    });
    await tick();
    // c was waiting for a turn: refused, never started; a and b are under way, and close() waits for them.
    expect([c.started, closed]).toEqual([false, false]);
    await expect(runs[2]).rejects.toThrow(new HarnessStoppingError('pod c'));
    a.finish(); // created after the stop began: the caller (the harness) has recorded it, its stop removes it
    await tick();
    expect(closed).toBe(false);
    b.fail();
    await closing;
    expect(await Promise.allSettled(runs.slice(0, 2))).toEqual([
      { status: 'fulfilled', value: 'a' },
      { status: 'rejected', reason: new Error('b failed') },
    ]);
    // From now on: refused at once, and a creation's own steps stop (check).
    const d = creation('d');
    await expect(turns.run('pod d', d.create)).rejects.toBeInstanceOf(HarnessStoppingError);
    expect(d.started).toBe(false);
    expect(() => turns.check('pod a')).toThrow('pod a: not created, the harness is stopping');
  });
});
