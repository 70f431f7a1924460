import { describe, expect, it } from 'vitest';
import { BodyPool, EXPIRY_TAKES, MAX_FREE, MIN_POOLED_BYTES } from '../../agent/metrics/body-pool.js';
import { ExpositionDemand, RenderedMetrics, SCRAPER_VARIANTS, type ExpositionFormat, type RenderedBody } from '../../agent/metrics/exposition.js';

const KIB = 1024;

describe('BodyPool', () => {
  it('gives a released backing to the next body that fits and is not under half of it, of either format', () => {
    const pool = new BodyPool();
    const a = pool.take(800 * KIB);
    expect(a.body.length).toBe(800 * KIB);
    expect(a.body.buffer.byteLength).toBe(900 * KIB); // 1/8 headroom
    // Not released yet: a new backing.
    const b = pool.take(800 * KIB);
    expect(b.body.buffer === a.body.buffer).toBe(false);
    a.release();
    a.release(); // once only
    expect(pool.freeBytes()).toBe(900 * KIB);
    expect(pool.take(1000 * KIB).body.buffer === a.body.buffer).toBe(false); // past the backing
    expect(pool.take(400 * KIB).body.buffer === a.body.buffer).toBe(false); // under half of it
    // A body that grew within the headroom gets it.
    const c = pool.take(850 * KIB);
    expect(c.body.buffer === a.body.buffer).toBe(true);
    expect(c.body.length).toBe(850 * KIB);
    expect(pool.freeBytes()).toBe(0);
    expect([pool.allocated, pool.reused]).toEqual([4, 1]);
  });

  it('takes the smallest free backing that fits; keeps at most MAX_FREE, the newest', () => {
    const pool = new BodyPool();
    const big = pool.take(1000 * KIB);
    const small = pool.take(800 * KIB);
    const third = pool.take(800 * KIB);
    big.release();
    small.release();
    expect(pool.take(700 * KIB).body.buffer === small.body.buffer).toBe(true);
    small.release(); // already given back once: nothing
    third.release();
    expect(pool.freeBytes()).toBe(1125 * KIB + 900 * KIB);
    const fourth = pool.take(600 * KIB); // the smallest free backing that holds it and is under twice its size
    expect(fourth.body.buffer === third.body.buffer).toBe(true);
    const extra = [pool.take(100 * KIB), pool.take(100 * KIB), pool.take(100 * KIB)];
    for (const e of extra) e.release();
    expect(MAX_FREE).toBe(2);
    expect(pool.freeBytes()).toBe(2 * 112.5 * KIB);
  });

  it('drops a free backing not taken within EXPIRY_TAKES takes', () => {
    const pool = new BodyPool();
    const a = pool.take(800 * KIB);
    a.release();
    // Takes that it does not fit (a format no longer rendered leaves its backing unused).
    for (let i = 0; i < EXPIRY_TAKES; i++) pool.take(100 * KIB).release();
    expect(pool.freeBytes()).toBe(900 * KIB + 112.5 * KIB);
    pool.take(100 * KIB);
    expect(pool.freeBytes()).toBe(0);
    expect(pool.take(800 * KIB).body.buffer === a.body.buffer).toBe(false);
  });

  it('does not pool small bodies (malloc serves them from its arenas)', () => {
    const pool = new BodyPool();
    const a = pool.take(MIN_POOLED_BYTES - 1);
    a.release();
    expect(pool.freeBytes()).toBe(0);
    expect(pool.allocated).toBe(0);
  });
});

/** A renderer whose bodies come from `pool`; each rendering waits for `gate` when one is set. */
function pooled(pool: BodyPool): { render: (f: ExpositionFormat) => Promise<RenderedBody>; gate: Promise<void> | null; calls: ExpositionFormat[] } {
  const r = {
    gate: null as Promise<void> | null,
    calls: [] as ExpositionFormat[],
    render: async (format: ExpositionFormat): Promise<RenderedBody> => {
      r.calls.push(format);
      await r.gate;
      const text = `# TYPE a gauge\na ${format === 'openmetrics' ? 1 : 2}\n`.padEnd(100 * KIB, '#');
      const lease = pool.take(text.length);
      lease.body.write(text, 'latin1');
      return { body: lease.body, samples: 1, release: lease.release };
    },
  };
  return r;
}

describe('RenderedMetrics retired', () => {
  it('gives its bodies back once retired and no response holds them, then serves nothing', async () => {
    const pool = new BodyPool();
    const m = await RenderedMetrics.create(pooled(pool).render, null);
    const body = await m.body('prometheus', false);
    const done = m.hold();
    m.retire();
    expect(pool.freeBytes()).toBe(0); // a response still writes it
    done();
    done();
    expect(pool.freeBytes()).toBe(body.buffer.byteLength);
    await expect(m.body('prometheus', false)).rejects.toThrow('after its bodies were reused');
    expect(m.hold()).toBeTypeOf('function');
  });

  it('waits for a pending rendering and a pending gzip (which reads a text) before giving anything back', async () => {
    const pool = new BodyPool();
    const r = pooled(pool);
    const m = await RenderedMetrics.create(r.render, null);
    let open!: () => void;
    r.gate = new Promise((resolve) => (open = resolve));
    const zipped = m.body('openmetrics', true); // renders openmetrics (gated), then gzips it
    const text = m.body('prometheus', true); // gzips the text rendered up front
    m.retire();
    expect(pool.freeBytes()).toBe(0);
    await text;
    expect(pool.freeBytes()).toBe(0); // openmetrics still rendering
    open();
    await zipped;
    await new Promise((resolve) => setImmediate(resolve));
    // Both formats' backings are free now.
    expect(pool.freeBytes()).toBe(2 * Math.floor((100 * KIB * 9) / 8));
  });

  it('gives back at once a text wanted only as a gzip input; renders it again if asked for after all', async () => {
    const pool = new BodyPool();
    const r = pooled(pool);
    const m = await RenderedMetrics.create(r.render, new ExpositionDemand(SCRAPER_VARIANTS));
    expect(r.calls).toEqual(['openmetrics', 'prometheus']);
    expect(m.rendered()).toEqual([{ format: 'openmetrics', gzip: true }, { format: 'prometheus', gzip: true }]);
    expect(pool.freeBytes()).toBe(2 * Math.floor((100 * KIB * 9) / 8));
    expect([m.samples, m.bytes]).toEqual([1, 100 * KIB]);
    // The gzips stay; a plain text asked for now is rendered again, into a free backing.
    expect((await m.body('openmetrics', true)).length).toBeGreaterThan(0);
    const plain = await m.body('prometheus', false);
    expect(plain.toString('latin1', 0, 19)).toBe('# TYPE a gauge\na 2\n');
    expect(r.calls).toEqual(['openmetrics', 'prometheus', 'prometheus']);
    expect(pool.reused).toBe(1);
    m.retire();
    expect(pool.freeBytes()).toBe(2 * Math.floor((100 * KIB * 9) / 8));
  });

  it('keeps a text a plain variant also wants', async () => {
    const pool = new BodyPool();
    await RenderedMetrics.create(pooled(pool).render, new ExpositionDemand([{ format: 'openmetrics', gzip: true }, { format: 'openmetrics', gzip: false }]));
    expect(pool.freeBytes()).toBe(0);
  });
});
