/**
 * One collection's exposition, rendered per variant (Prometheus text or OpenMetrics, plain or gzip) when it is
 * wanted, then kept until the next collection replaces it.
 *
 * A Prometheus server asks for one variant, always the same (OpenMetrics, gzip, for Prometheus 2.x): rendering all
 * four after every collection, as the agent did, spent half the metrics pipeline on texts nobody read (two
 * renderings and two gzips of ~1 MB at 110 pods with chaos). So the variants asked for recently (ExpositionDemand:
 * within the last 5 minutes) are rendered right after the collection, as before, and a scrape of any of them only
 * writes a buffer; any other variant is rendered on its first request and shared by the requests that follow.
 * Before the first scrape serve wants the gzipped variants (SCRAPER_VARIANTS: what Prometheus and other scrapers
 * ask for), so a new scraper does not wait on a rendering; a plain text is rendered on its first request. A text
 * wanted only as a gzip's input is given back to the body pool once gzipped (body-pool.ts).
 */
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import { AgentError } from '../errors.js';
import { countSamples } from './render-text.js';

const gzipAsync = promisify(gzipCb);
/**
 * Level 3: the fastest of zlib's levels that looks for longer matches (levels 1-3 share deflate_fast; 3 searches 32
 * candidates up to 32 bytes where 1 stops at 4 and 8), so it costs what level 1 does on Prometheus text, whose lines
 * repeat long label sets, for a body ~23% smaller: at 110 mesh pods (1.9 MB of OpenMetrics) 60 KB instead of 78 KB,
 * 1.9 ms either way (node 20's zlib, 2026-12-02; at 110 chaos pods 37.0 instead of 39.1 KB); level 6 gives 54 KB for
 * 9 ms. A smaller body is less for every scraper to carry and to gunzip.
 */
const GZIP_LEVEL = 3;
const gzip = (b: Buffer): Promise<Buffer> => gzipAsync(b, { level: GZIP_LEVEL });

export type ExpositionFormat = 'prometheus' | 'openmetrics';

export interface ExpositionVariant {
  format: ExpositionFormat;
  gzip: boolean;
}

export const ALL_VARIANTS: readonly ExpositionVariant[] = [
  { format: 'openmetrics', gzip: true },
  { format: 'prometheus', gzip: true },
  { format: 'openmetrics', gzip: false },
  { format: 'prometheus', gzip: false },
];

/**
 * What serve renders before anyone asked: OpenMetrics gzipped (Prometheus 2.x and 3.x, with their default scrape
 * protocols) and the Prometheus text gzipped (scrapers that ask for text/plain with gzip). A plain text (curl) is
 * rendered on its first request.
 */
export const SCRAPER_VARIANTS: readonly ExpositionVariant[] = [
  { format: 'openmetrics', gzip: true },
  { format: 'prometheus', gzip: true },
];

const keyOf = (v: ExpositionVariant): string => `${v.format}${v.gzip ? '+gzip' : ''}`;

/** Which variants scrapers asked for recently. */
export class ExpositionDemand {
  private readonly asked = new Map<string, { variant: ExpositionVariant; at: number }>();

  /**
   * `initial`: what is wanted before the first request (serve: SCRAPER_VARIANTS; a one-shot command: what it prints).
   * `windowMs`: how long a request keeps its variant wanted (scrape intervals are 10 s-2 min).
   */
  constructor(
    private readonly initial: readonly ExpositionVariant[] = ALL_VARIANTS,
    private readonly windowMs = 5 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  note(variant: ExpositionVariant): void {
    this.asked.set(keyOf(variant), { variant, at: this.now() });
  }

  /** The variants to render with the collection: those asked within the window (none asked ever: `initial`). */
  wanted(): ExpositionVariant[] {
    if (this.asked.size === 0) return [...this.initial];
    const since = this.now() - this.windowMs;
    return [...this.asked.values()].filter((a) => a.at >= since).map((a) => a.variant);
  }
}

/**
 * A rendered format: its body and its samples (lines that are neither empty nor comments). `release` gives the
 * body's backing back to its pool (body-pool.ts) once nothing reads it any more (RenderedMetrics.retire).
 */
export interface RenderedBody {
  body: Buffer;
  samples: number;
  release?: () => void;
}

/** Renders one format (exposition-body.ts over the collection's families and registry; a text, in tests). */
export type FormatRenderer = (format: ExpositionFormat) => Promise<RenderedBody | string>;

/** One collection's exposition: each variant rendered at most once, on demand or up front. */
export class RenderedMetrics {
  private readonly texts = new Map<ExpositionFormat, Promise<Buffer>>();
  private readonly zipped = new Map<ExpositionFormat, Promise<Buffer>>();
  /** Samples (non-comment lines) of the first text rendered; both formats carry the same samples. */
  samples = 0;
  /** Bytes of the first text rendered. */
  bytes = 0;
  private counted = false;
  /** Each kept text's release, called once this exposition is retired, no rendering is pending and no response holds it. */
  private readonly leases = new Map<ExpositionFormat, () => void>();
  private pending = 0;
  private holds = 0;
  private retired = false;
  private recycled = false;

  private constructor(
    private readonly render: FormatRenderer,
    private readonly demand: ExpositionDemand | null,
  ) {}

  /**
   * Renders the variants `demand` wants now (at least one text, for `samples`), then returns the exposition;
   * `demand` also records every later request. A failed rendering rejects here (the collection is not published).
   */
  static async create(render: FormatRenderer, demand: ExpositionDemand | null): Promise<RenderedMetrics> {
    const m = new RenderedMetrics(render, demand);
    const wanted = demand?.wanted() ?? [];
    await m.text(wanted[0]?.format ?? 'prometheus'); // sets `samples`
    await Promise.all(wanted.map((v) => m.variant(v)));
    // A text wanted only as a gzip's input is given back now (rendered again if someone asks for it after all).
    const plain = new Set(wanted.filter((v) => !v.gzip).map((v) => v.format));
    for (const v of wanted) if (v.gzip && !plain.has(v.format)) m.dropText(v.format);
    return m;
  }

  /** The body of one variant (a scrape): recorded as wanted, rendered now if it was not. */
  body(format: ExpositionFormat, gzipped: boolean): Promise<Buffer> {
    // A bug if it happens: a response takes hold() before it asks for a body, so its exposition cannot be recycled.
    if (this.recycled) return Promise.reject(new AgentError('EXPOSITION_RETIRED', 'exposition asked for after its bodies were reused'));
    const v = { format, gzip: gzipped };
    this.demand?.note(v);
    return this.variant(v);
  }

  /**
   * A response is about to write one of these bodies: they are not reused until the returned function is called
   * (once the response is done or its connection closed; later calls do nothing).
   */
  hold(): () => void {
    this.holds += 1;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.holds -= 1;
      this.recycle();
    };
  }

  /**
   * A newer collection replaced this one: its bodies go back to their pool once no rendering (or gzip, which reads a
   * text) is pending and no response holds them. From then on it serves nothing.
   */
  retire(): void {
    this.retired = true;
    this.recycle();
  }

  private recycle(): void {
    if (!this.retired || this.recycled || this.pending > 0 || this.holds > 0) return;
    this.recycled = true;
    this.texts.clear();
    this.zipped.clear();
    for (const release of this.leases.values()) release();
    this.leases.clear();
  }

  /** A text nobody was given (not published yet) and that nothing pending reads: its backing goes back now. */
  private dropText(format: ExpositionFormat): void {
    const release = this.leases.get(format);
    if (!release || this.pending > 0) return;
    this.texts.delete(format);
    this.leases.delete(format);
    release();
  }

  /** `p`, counted as pending (its bodies not reused) until it settles. */
  private track<T>(p: Promise<T>): Promise<T> {
    this.pending += 1;
    const settled = (): void => {
      this.pending -= 1;
      this.recycle();
    };
    p.then(settled, settled);
    return p;
  }

  /** Variants rendered so far (for tests). */
  rendered(): ExpositionVariant[] {
    const out: ExpositionVariant[] = [];
    for (const format of this.texts.keys()) out.push({ format, gzip: false });
    for (const format of this.zipped.keys()) out.push({ format, gzip: true });
    return out;
  }

  private variant(v: ExpositionVariant): Promise<Buffer> {
    return v.gzip ? this.gzipped(v.format) : this.text(v.format);
  }

  private text(format: ExpositionFormat): Promise<Buffer> {
    let p = this.texts.get(format);
    if (!p) {
      p = this.render(format).then((r) => {
        const body = typeof r === 'string' ? Buffer.from(r, 'utf8') : r.body;
        if (!this.counted) {
          this.samples = typeof r === 'string' ? countSamples(r) : r.samples; // a string: counted before it is dropped for its buffer
          this.bytes = body.length;
          this.counted = true;
        }
        if (typeof r !== 'string' && r.release) this.leases.set(format, r.release); // last: nothing after it can throw
        return body;
      });
      this.track(p);
      this.texts.set(format, p);
      // A failed rendering is not kept: the next request tries again.
      p.catch(() => this.texts.delete(format));
    }
    return p;
  }

  private gzipped(format: ExpositionFormat): Promise<Buffer> {
    let p = this.zipped.get(format);
    if (!p) {
      p = this.track(this.text(format).then((b) => gzip(b)));
      this.zipped.set(format, p);
      p.catch(() => this.zipped.delete(format));
    }
    return p;
  }
}
