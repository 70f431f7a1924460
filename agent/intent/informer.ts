/**
 * A list+watch informer for one chaos-mesh.org resource, on @kubernetes/client-node (CustomObjectsApi for the
 * paged list; the stream through watch-stream.ts, with client-node's credentials, not its Watch, whose request
 * cannot be cancelled before its headers arrive). Not client-node's own ListWatch, which sends no
 * allowWatchBookmarks, has no bound on its cache, no request deadline or backoff, stops for good on the first
 * error and reports its own stop() as an error. This one:
 * - lists (paged, each page with a deadline), then watches from the list's resourceVersion with
 *   allowWatchBookmarks and a server-side timeoutSeconds (jittered); a stream that ends is re-opened from the
 *   last resourceVersion seen (events and bookmarks advance it);
 * - relists on 410 Gone (an ERROR event with a Status 410 in the stream, or a 410 answer) and every `resyncMs`
 *   (the cache is replaced by the fresh list);
 * - on any other failure waits with exponential backoff and jitter (`backoffMs.initial` doubling to `.max`),
 *   keeps the last cache and says it is stale; a watch that receives nothing (no event, no bookmark) for
 *   `idleTimeoutMs` is aborted and re-opened (a half-open connection cannot freeze it); a watch request not
 *   answered within `requestTimeoutMs` is aborted too, its connection closed (stop() closes it as well);
 * - keeps at most `maxObjects` normalised objects (normalise.ts: no managedFields, no record events).
 * It runs on its own: nothing waits for it; readers take `objects()` and `status()` as they are.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { describeFailure, KubeApiError, listAll, objectKey, statusOf } from './list.js';
import { collectionPath, type Normalised, type ResourceSpec } from './resources.js';
import { watchStream } from './watch-stream.js';

/** The knobs of the Kubernetes API source (KUBE_DEFAULTS in source.ts). */
export interface KubeSourceSettings {
  /** Objects kept per resource. */
  maxObjects: number;
  pageSize: number;
  /** Deadline of each list page, and of a watch request until its stream opens. */
  requestTimeoutMs: number;
  /** Server-side watch timeout; each watch asks for this plus up to 20 % jitter. */
  watchTimeoutSeconds: number;
  /** Full relist period. */
  resyncMs: number;
  backoffMs: { initial: number; max: number };
  /** Nothing received on an open watch for this long: abort and re-open. Default watchTimeout + 60 s. */
  idleTimeoutMs?: number;
}

export interface InformerOptions extends KubeSourceSettings {
  kc: KubeConfig;
  resource: ResourceSpec;
  log: Logger;
  now?: () => number;
}

export interface InformerStatus {
  resource: string;
  /** A complete list has been received at least once. */
  synced: boolean;
  /** A watch is open on top of a complete list: the cache follows the server now. */
  connected: boolean;
  /** Last time (ms) the cache was known to match the server; now while connected; null before the first list. */
  lastSyncAt: number | null;
  objects: number;
  truncated: boolean;
  skipped: number;
  lastError: string | null;
  lists: number;
  watches: number;
  failures: number;
}

type WatchEnd = 'closed' | 'expired' | 'resync' | 'idle' | 'stopped';

export class ResourceInformer {
  private cache = new Map<string, Normalised>();
  private rv = '';
  private synced = false;
  private connected = false;
  private lastSyncAt: number | null = null;
  private lastListAt = 0;
  private truncated = false;
  private skipped = 0;
  private lastError: string | null = null;
  private lists = 0;
  private watches = 0;
  private failures = 0;
  private failing = false;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private abortCurrent: ((why: WatchEnd) => void) | null = null;
  private wake: (() => void) | null = null;
  private readonly stopper = new AbortController();
  private readonly now: () => number;

  constructor(private readonly opts: InformerOptions) {
    this.now = opts.now ?? Date.now;
  }

  get plural(): string {
    return this.opts.resource.plural;
  }

  start(): void {
    if (this.loop || this.stopped) return;
    this.loop = this.run().catch((err: unknown) => {
      // run() handles its own failures; reaching here is a bug, kept visible.
      this.opts.log.error({ resource: this.plural, err: errorMessage(err) }, 'kube informer loop crashed');
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopper.abort();
    this.abortCurrent?.('stopped');
    this.wake?.();
    await this.loop;
  }

  objects(): Normalised[] {
    return [...this.cache.values()];
  }

  status(): InformerStatus {
    return {
      resource: this.plural,
      synced: this.synced,
      connected: this.connected,
      lastSyncAt: this.connected ? this.now() : this.lastSyncAt,
      objects: this.cache.size,
      truncated: this.truncated,
      skipped: this.skipped,
      lastError: this.lastError,
      lists: this.lists,
      watches: this.watches,
      failures: this.failures,
    };
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    }).then(() => {
      this.wake = null;
    });
  }

  private async run(): Promise<void> {
    let backoff = this.opts.backoffMs.initial;
    let quickRetries = 0;
    while (!this.stopped) {
      try {
        if (this.rv === '' || this.now() - this.lastListAt >= this.opts.resyncMs) await this.list();
        const opened = this.now();
        const end = await this.watchOnce();
        if (end === 'expired') this.rv = '';
        if (end === 'stopped') break;
        backoff = this.opts.backoffMs.initial;
        // A stream the server ends at once, again and again, must not become a busy loop.
        if (end === 'closed' && this.now() - opened < 1000) await this.sleep(Math.min(this.opts.backoffMs.initial, 1000));
        quickRetries = 0;
      } catch (err) {
        this.connected = false;
        if (this.stopped) break;
        this.failures++;
        const status = statusOf(err) ?? (err instanceof KubeApiError ? err.status : null);
        this.lastError = errorMessage(err);
        if (status === 410 && quickRetries === 0) {
          // An expired continue token or resourceVersion: relist from scratch at once (once).
          this.rv = '';
          quickRetries++;
          continue;
        }
        quickRetries = 0;
        const wait = Math.round(backoff * (0.8 + 0.4 * Math.random()));
        // Once at warn when it starts failing, then at debug until it recovers (no log flood while the API is gone).
        const level = this.failing ? 'debug' : 'warn';
        this.failing = true;
        this.opts.log[level]({ resource: this.plural, err: this.lastError, retryInMs: wait }, 'kube list/watch failed');
        await this.sleep(wait);
        backoff = Math.min(this.opts.backoffMs.max, backoff * 2);
      }
    }
    this.connected = false;
  }

  private async list(): Promise<void> {
    const r = await listAll(this.opts.kc, this.opts.resource, {
      pageSize: this.opts.pageSize,
      maxObjects: this.opts.maxObjects,
      requestTimeoutMs: this.opts.requestTimeoutMs,
      signal: this.stopper.signal,
    });
    this.lists++;
    this.cache = r.objects;
    this.truncated = r.truncated;
    this.skipped = r.skipped;
    this.rv = r.resourceVersion;
    this.synced = true;
    this.lastListAt = this.now();
    this.lastSyncAt = this.lastListAt;
    if (r.truncated) this.opts.log.warn({ resource: this.plural, maxObjects: this.opts.maxObjects }, 'kube cache full: objects beyond the cap are ignored');
    if (this.failing) this.opts.log.info({ resource: this.plural, objects: this.cache.size }, 'kube list recovered');
    this.failing = false;
    this.lastError = null;
  }

  private apply(type: string, raw: unknown): void {
    const meta = (raw as { metadata?: { resourceVersion?: unknown } } | null)?.metadata;
    if (typeof meta?.resourceVersion === 'string' && meta.resourceVersion !== '') this.rv = meta.resourceVersion;
    if (type === 'BOOKMARK') return;
    const n = this.opts.resource.normalise(raw);
    if (n === null) {
      this.skipped++;
      return;
    }
    const key = objectKey(n);
    if (type === 'DELETED') {
      this.cache.delete(key);
    } else if (this.cache.has(key) || this.cache.size < this.opts.maxObjects) {
      this.cache.set(key, n);
    } else {
      this.truncated = true;
    }
  }

  /** One watch stream, from this.rv to its end. Resolves with why it ended; rejects on a failure. */
  private watchOnce(): Promise<WatchEnd> {
    const o = this.opts;
    if (this.stopped) return Promise.resolve('stopped');
    const remaining = Math.max(1000, o.resyncMs - (this.now() - this.lastListAt));
    const timeoutSeconds = Math.max(1, Math.round(o.watchTimeoutSeconds * (1 + 0.2 * Math.random())));
    const idleMs = o.idleTimeoutMs ?? timeoutSeconds * 1000 + 60_000;
    this.watches++;
    return new Promise<WatchEnd>((resolve, reject) => {
      let settled = false;
      // The request's own signal, from before it is sent: aborting it closes the request at any stage.
      const request = new AbortController();
      let ended: WatchEnd | null = null;
      let failure: Error | null = null;
      let idle: NodeJS.Timeout;
      const finish = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(idle);
        clearTimeout(resync);
        this.abortCurrent = null;
        request.abort(); // a no-op for a request already over
        // The cache was current up to now only if the stream was open.
        if (this.connected) this.lastSyncAt = this.now();
        this.connected = false;
        fn();
      };
      const stopWith = (why: WatchEnd): void => {
        ended = why;
        finish(() => resolve(why));
      };
      // Until the stream is open, the idle timer is the request deadline.
      idle = setTimeout(() => stopWith('idle'), o.requestTimeoutMs);
      const resync = setTimeout(() => stopWith('resync'), remaining);
      this.abortCurrent = stopWith;
      const onOpen = (): void => {
        if (settled) return;
        // The request was answered 200: the stream is open.
        this.connected = true;
        this.lastSyncAt = this.now();
        if (this.failing) this.opts.log.info({ resource: this.plural }, 'kube watch recovered');
        this.failing = false;
        this.lastError = null;
        clearTimeout(idle);
        idle = setTimeout(() => stopWith('idle'), idleMs);
      };
      const onEvent = (type: string, object: unknown): void => {
        if (settled) return;
        clearTimeout(idle);
        idle = setTimeout(() => stopWith('idle'), idleMs);
        this.lastSyncAt = this.now();
        if (type === 'ERROR') {
          const code = (object as { code?: unknown } | null)?.code;
          if (code === 410) ended = 'expired';
          else failure = new KubeApiError(this.plural, typeof code === 'number' ? code : null, `watch: ${String((object as { message?: unknown } | null)?.message ?? 'ERROR event')}`);
          return;
        }
        this.apply(type, object);
      };
      const onDone = (err: unknown): void => {
        if (settled) return;
        if (err && ended === null) {
          const status = statusOf(err);
          finish(() => reject(new KubeApiError(this.plural, status, `watch: ${describeFailure(err)}`, { cause: err })));
          return;
        }
        if (failure !== null && ended === null) {
          const f = failure;
          finish(() => reject(f));
          return;
        }
        const why = ended ?? 'closed';
        finish(() => resolve(why));
      };
      const query = { resourceVersion: this.rv, allowWatchBookmarks: true, timeoutSeconds };
      watchStream(o.kc, collectionPath(this.plural), query, request.signal, { onOpen, onEvent }).then(
        () => onDone(null),
        (err: unknown) => onDone(err ?? new Error('watch failed')),
      );
    });
  }
}
