import { describe, expect, it } from 'vitest';
import { BodyPool } from '../../agent/metrics/body-pool.js';
import { RenderedMetrics, type ExpositionFormat, type RenderedBody } from '../../agent/metrics/exposition.js';

const KIB = 1024;

describe('BodyPool', () => {
  it('gives a released backing to the next body of the same key, if it fits and is not twice too large', () => {
    const pool = new BodyPool();
    const a = pool.take('prometheus', 800 * KIB);
    expect(a.body.length).toBe(800 * KIB);
    expect(a.body.buffer.byteLength).toBe(900 * KIB); // 1/8 headroom
    // Not released yet: a new backing.
    const b = pool.take('prometheus', 800 * KIB);
    expect(b.body.buffer).not.toBe(a.body.buffer);
    a.release();
    a.release(); // once only
    expect(pool.freeBytes()).toBe(900 * KIB);
    // Another key does not get it.
    expect(pool.take('openmetrics', 800 * KIB).body.buffer).not.toBe(a.body.buffer);
    // A body that grew within the headroom does.
    const c = pool.take('prometheus', 850 * KIB);
    expect(c.body.buffer).toBe(a.body.buffer);
    expect(c.body.length).toBe(850 * KIB);
    expect(pool.freeBytes()).toBe(0);
    expect([pool.allocated, pool.reused]).toEqual([3, 1]);
  });

  it('allocates anew for a body past the backing, or under half of it; keeps one free backing per key', () => {
    const pool = new BodyPool();
    const a = pool.take('k', 800 * KIB);
    a.release();
    expect(pool.take('k', 1000 * KIB).body.buffer).not.toBe(a.body.buffer); // 900 KiB backing: too small
    const b = pool.take('k', 800 * KIB);
    b.release();
    expect(pool.take('k', 400 * KIB).body.buffer).not.toBe(b.body.buffer); // 900 KiB for 400: more than twice
    const c = pool.take('k', 800 * KIB);
    const d = pool.take('k', 800 * KIB);
    c.release();
    d.release();
    expect(pool.freeBytes()).toBe(900 * KIB);
  });

  it('does not pool small bodies (malloc serves them from its arenas)', () => {
    const pool = new BodyPool();
    const a = pool.take('k', 10 * KIB);
    a.release();
    expect(pool.freeBytes()).toBe(0);
    expect(pool.allocated).toBe(0);
  });
});

/** A renderer whose bodies come from `pool`; each rendering waits for `gate` when one is set. */
function pooled(pool: BodyPool): { render: (f: ExpositionFormat) => Promise<RenderedBody>; gate: Promise<void> | null } {
  const r = {
    gate: null as Promise<void> | null,
    render: async (format: ExpositionFormat): Promise<RenderedBody> => {
      await r.gate;
      const text = `# TYPE a gauge\na ${format === 'openmetrics' ? 1 : 2}\n`.padEnd(100 * KIB, '#');
      const lease = pool.take(format, text.length);
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
});
