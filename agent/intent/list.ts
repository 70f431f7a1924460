/**
 * One complete, paged list of a chaos-mesh.org resource through @kubernetes/client-node's CustomObjectsApi
 * (`limit` + `continue`), each page bounded by a deadline (an AbortSignal set by a request middleware), the
 * objects normalised as they arrive and capped at `maxObjects` (the rest counted, not kept). Used by the informer
 * (list, then watch from the list's resourceVersion) and by one-shot commands (lists only).
 */
import { CustomObjectsApi, Observable, type KubeConfig } from '@kubernetes/client-node';
import { AgentError, errorMessage } from '../errors.js';
import { API_GROUP, API_VERSION, type Normalised, type ResourceSpec } from './resources.js';

export interface ListOptions {
  pageSize: number;
  maxObjects: number;
  /** Deadline of each page request. */
  requestTimeoutMs: number;
  /** Aborts the list (stop). */
  signal?: AbortSignal;
}

export interface ListResult {
  objects: Map<string, Normalised>;
  resourceVersion: string;
  /** Objects beyond maxObjects were left out. */
  truncated: boolean;
  /** Malformed objects left out (no name/namespace). */
  skipped: number;
}

/** A list or watch against the API server failed; `status` is the HTTP status when there was one (410, 401...). */
export class KubeApiError extends AgentError {
  readonly resource: string;
  readonly status: number | null;
  constructor(resource: string, status: number | null, message: string, options?: { cause?: unknown }) {
    super(status === 410 ? 'KUBE_EXPIRED' : 'KUBE_API', `${resource}: ${message}`, options);
    this.resource = resource;
    this.status = status;
  }
}

/** HTTP status of a client-node failure: ApiException.code, Watch's statusCode, or a Status object's code. */
export function statusOf(err: unknown): number | null {
  if (err === null || typeof err !== 'object') return null;
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e.statusCode === 'number') return e.statusCode;
  if (typeof e.code === 'number') return e.code;
  return null;
}

/**
 * The message of a client-node failure: the API's Status message when the answer carried one (ApiException keeps
 * the raw body in `body`), else the first line of its message; never the response headers it appends.
 */
export function describeFailure(err: unknown): string {
  if ((err as { name?: string } | null)?.name === 'AbortError') return 'request timed out or was aborted';
  const status = statusOf(err);
  const lines = errorMessage(err).split('\n');
  let msg = lines.find((l) => l.startsWith('Message:'))?.slice(8).trim() ?? lines[0]!;
  const body = (err as { body?: unknown } | null)?.body;
  if (typeof body === 'string' && body.startsWith('{')) {
    try {
      const parsed = JSON.parse(body) as { message?: unknown };
      if (typeof parsed.message === 'string' && parsed.message !== '') msg = parsed.message;
    } catch {
      // a body that is not JSON: keep the Message line
    }
  }
  return status !== null ? `HTTP ${status}: ${msg}` : msg;
}

/** Key of an object in a cache: `<namespace>/<name>`. */
export function objectKey(n: Normalised): string {
  return `${n.value.namespace}/${n.value.name}`;
}

function withSignal(signal: AbortSignal) {
  // client-node 1.x middleware (Observable flavour): attach the deadline to the request before it is sent.
  return {
    pre: (ctx: { setSignal(s: AbortSignal): void }) => {
      ctx.setSignal(signal);
      return new Observable(Promise.resolve(ctx));
    },
    post: (ctx: unknown) => new Observable(Promise.resolve(ctx)),
  };
}

export async function listAll(kc: KubeConfig, resource: ResourceSpec, opts: ListOptions): Promise<ListResult> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const objects = new Map<string, Normalised>();
  let truncated = false;
  let skipped = 0;
  let cont: string | undefined;
  let resourceVersion = '';
  for (let page = 0; ; page++) {
    opts.signal?.throwIfAborted();
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), opts.requestTimeoutMs);
    const onStop = (): void => controller.abort();
    opts.signal?.addEventListener('abort', onStop, { once: true });
    let body: unknown;
    try {
      body = await api.listClusterCustomObject(
        { group: API_GROUP, version: API_VERSION, plural: resource.plural, limit: opts.pageSize, ...(cont ? { _continue: cont } : {}) },
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        { middleware: [withSignal(controller.signal)] } as any,
      );
    } catch (err) {
      throw new KubeApiError(resource.plural, statusOf(err), `list: ${describeFailure(err)}`, { cause: err });
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onStop);
    }
    const list = body as { metadata?: { resourceVersion?: unknown; continue?: unknown }; items?: unknown };
    if (!list || typeof list !== 'object' || !Array.isArray(list.items)) {
      throw new KubeApiError(resource.plural, null, 'list: the answer is not a list');
    }
    for (const raw of list.items) {
      const n = resource.normalise(raw);
      if (n === null) {
        skipped++;
        continue;
      }
      if (objects.size >= opts.maxObjects) {
        truncated = true;
        continue;
      }
      objects.set(objectKey(n), n);
    }
    if (typeof list.metadata?.resourceVersion === 'string') resourceVersion = list.metadata.resourceVersion;
    cont = typeof list.metadata?.continue === 'string' && list.metadata.continue !== '' ? list.metadata.continue : undefined;
    if (cont === undefined) break;
  }
  return { objects, resourceVersion, truncated, skipped };
}
