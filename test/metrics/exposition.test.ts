import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ALL_VARIANTS, ExpositionDemand, RenderedMetrics, type ExpositionFormat } from '../../agent/metrics/exposition.js';

/** A renderer that counts its calls per format and can be told to fail. */
function renderer(fail: Set<ExpositionFormat> = new Set()) {
  const calls: ExpositionFormat[] = [];
  const render = async (format: ExpositionFormat): Promise<string> => {
    calls.push(format);
    await new Promise((r) => setImmediate(r));
    if (fail.has(format)) throw new Error(`${format} failed`);
    return format === 'openmetrics' ? '# TYPE a counter\na_total 1\nb 2\n# EOF\n' : '# TYPE a_total counter\na_total 1\nb 2\n';
  };
  return { calls, render };
}

describe('ExpositionDemand', () => {
  it('wants its initial variants until the first request, then what was asked within the window', () => {
    let now = 1_000_000;
    const d = new ExpositionDemand(ALL_VARIANTS, 60_000, () => now);
    expect(d.wanted()).toEqual(ALL_VARIANTS);
    d.note({ format: 'openmetrics', gzip: true });
    expect(d.wanted()).toEqual([{ format: 'openmetrics', gzip: true }]);
    now += 30_000;
    d.note({ format: 'prometheus', gzip: false });
    expect(d.wanted()).toEqual([{ format: 'openmetrics', gzip: true }, { format: 'prometheus', gzip: false }]);
    now += 40_000; // the gzip was asked 70 s ago, the plain text 40 s ago
    expect(d.wanted()).toEqual([{ format: 'prometheus', gzip: false }]);
    d.note({ format: 'openmetrics', gzip: true }); // asked again: wanted again
    now += 30_000;
    expect(d.wanted()).toEqual([{ format: 'openmetrics', gzip: true }]);
    now += 60_000;
    expect(d.wanted()).toEqual([]); // the scraper is gone: nothing is rendered up front but the text for `samples`
  });
});

describe('RenderedMetrics', () => {
  it('renders up front only the wanted variants; another one once, on its first request, shared by concurrent ones', async () => {
    const r = renderer();
    const demand = new ExpositionDemand([{ format: 'openmetrics', gzip: true }]);
    const m = await RenderedMetrics.create(r.render, demand);
    expect(r.calls).toEqual(['openmetrics']);
    expect(m.samples).toBe(2);
    expect(m.rendered()).toEqual([{ format: 'openmetrics', gzip: false }, { format: 'openmetrics', gzip: true }]);
    expect(gunzipSync(await m.body('openmetrics', true)).toString()).toBe('# TYPE a counter\na_total 1\nb 2\n# EOF\n');
    expect(r.calls).toEqual(['openmetrics']); // a scrape of a wanted variant writes a buffer

    const [a, b] = await Promise.all([m.body('prometheus', true), m.body('prometheus', true)]);
    expect(a).toBe(b);
    expect(gunzipSync(a).toString()).toBe('# TYPE a_total counter\na_total 1\nb 2\n');
    expect(await m.body('prometheus', false)).toEqual(Buffer.from('# TYPE a_total counter\na_total 1\nb 2\n'));
    expect(r.calls).toEqual(['openmetrics', 'prometheus']);
    // The next collection renders what was asked for.
    expect(demand.wanted().map((v) => `${v.format}/${v.gzip}`).sort()).toEqual(['openmetrics/true', 'prometheus/false', 'prometheus/true']);
  });

  it('gzips at level 3: what level 1 costs on Prometheus text, a smaller body', async () => {
    // Lines as the agent's rule series: long label sets repeated with a few values changed.
    let text = '# TYPE chaos_mesh_iptables_packets counter\n';
    for (let pod = 0; pod < 40; pod++) {
      for (let rule = 0; rule < 25; rule++) {
        text += `chaos_mesh_iptables_packets_total{namespace="team-${pod % 7}",pod="checkout-${pod}-7d9f8b6c5d-x${pod}q",` +
          `table="nat",chain="ISTIO_OUTPUT",rule="-A ISTIO_OUTPUT -d 10.${pod}.${rule}.0/24 -p tcp -m tcp --dport ${8000 + rule} -j RETURN"} ${pod * 31 + rule * 7}\n`;
      }
    }
    text += '# EOF\n';
    const m = await RenderedMetrics.create(async () => text, new ExpositionDemand([{ format: 'openmetrics', gzip: true }]));
    const body = await m.body('openmetrics', true);
    expect(gunzipSync(body).toString()).toBe(text);
    expect(body).toEqual(gzipSync(text, { level: 3 }));
    expect(body.length).toBeLessThan(gzipSync(text, { level: 1 }).length * 0.85);
  });

  it('without demand renders the Prometheus text only (a one-shot command prints it)', async () => {
    const r = renderer();
    const m = await RenderedMetrics.create(r.render, null);
    expect(r.calls).toEqual(['prometheus']);
    expect(m.samples).toBe(2);
  });

  it('rejects when an up-front rendering fails; a failed on-demand rendering is retried by the next request', async () => {
    const failing = new Set<ExpositionFormat>(['openmetrics']);
    await expect(RenderedMetrics.create(renderer(failing).render, new ExpositionDemand([{ format: 'openmetrics', gzip: false }]))).rejects.toThrow('openmetrics failed');

    const r = renderer(failing);
    const m = await RenderedMetrics.create(r.render, null);
    await expect(m.body('openmetrics', true)).rejects.toThrow('openmetrics failed');
    failing.clear();
    expect((await m.body('openmetrics', true)).length).toBeGreaterThan(0);
    expect(r.calls).toEqual(['prometheus', 'openmetrics', 'openmetrics']);
  });
});
