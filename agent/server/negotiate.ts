/**
 * Content negotiation for /metrics: OpenMetrics when the Accept header prefers application/openmetrics-text
 * (as Prometheus does when scraping with OpenMetrics enabled), the Prometheus text format 0.0.4 otherwise;
 * gzip when Accept-Encoding allows it.
 */

interface MediaRange {
  type: string;
  q: number;
}

function parseAccept(header: string): MediaRange[] {
  return header.split(',').map((part) => {
    const [type = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    let q = 1;
    for (const p of params) {
      const m = /^q=([0-9.]+)$/.exec(p);
      if (m) q = Math.min(1, Number(m[1]) || 0);
    }
    return { type, q };
  });
}

/** True when OpenMetrics should be served. */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  if (!accept) return false;
  let om = 0;
  let text = 0;
  for (const r of parseAccept(accept)) {
    if (r.type === 'application/openmetrics-text') om = Math.max(om, r.q);
    else if (r.type === 'text/plain' || r.type === 'text/*' || r.type === '*/*') text = Math.max(text, r.q);
  }
  return om > 0 && om >= text;
}

/** True when the response may be gzip-encoded. */
export function acceptsGzip(acceptEncoding: string | undefined): boolean {
  if (!acceptEncoding) return false;
  for (const part of acceptEncoding.split(',')) {
    const [coding = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (coding !== 'gzip' && coding !== '*') continue;
    const q = params.map((p) => /^q=([0-9.]+)$/.exec(p)).find(Boolean);
    if (!q || Number(q[1]) > 0) return true;
  }
  return false;
}
