/**
 * One Kubernetes watch request, on node:http(s) with what @kubernetes/client-node's KubeConfig gives for it
 * (applyToHTTPSOptions: the bearer token or client certificate, the CA, the agent, a proxy agent when the cluster
 * has a proxy-url). Not client-node's Watch (1.4): it returns its AbortController only once the response headers
 * have arrived and replaces its own 30 s timeout signal with that controller's, so a request the server accepts
 * and never answers cannot be cancelled by anyone and stays open (one more socket per retry, and the process kept
 * alive after the informer stopped). Here the caller's signal is the request's from the start: aborting it
 * destroys the request and its socket whether it is connecting, waiting for headers or streaming. The signal is
 * the request's only deadline (the informer's request and idle timers abort it).
 */
import { request as httpRequest, STATUS_CODES } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { StringDecoder } from 'node:string_decoder';
import type { KubeConfig } from '@kubernetes/client-node';
import { AgentError } from '../errors.js';

/**
 * The watch request failed: `statusCode` when the server answered other than 200, `body` its (capped) answer
 * (list.ts describeFailure takes the Status message from it, as for the list calls).
 */
export class WatchRequestError extends AgentError {
  readonly statusCode: number | null;
  readonly body: string | undefined;
  constructor(message: string, statusCode: number | null, options?: { cause?: unknown; body?: string }) {
    super(statusCode === 410 ? 'KUBE_EXPIRED' : 'KUBE_WATCH', message, options);
    this.statusCode = statusCode;
    this.body = options?.body;
  }
}

export interface WatchCallbacks {
  /** The server answered 200: the stream is open. */
  onOpen(): void;
  /** One event of the stream (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR) and its object. */
  onEvent(type: string, object: unknown): void;
}

/** An error answer's body is read up to this (a Status object is well under 1 KiB). */
const MAX_ERROR_BODY = 64 * 1024;
/** One event line longer than this (characters) ends the stream (etcd's own limit on an object is 1.5 MiB). */
const MAX_LINE = 16 * 1024 * 1024;

export type WatchQuery = Record<string, string | number | boolean | undefined>;

/**
 * Watch `path` (a collection path on the current cluster's server). Resolves when the server ends the stream;
 * rejects with a WatchRequestError on an answer other than 200, a malformed event or a cut stream, with the
 * network error, or with an AbortError once `signal` aborts. When it settles the request is closed.
 */
export async function watchStream(kc: KubeConfig, path: string, query: WatchQuery, signal: AbortSignal, cb: WatchCallbacks): Promise<void> {
  signal.throwIfAborted();
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new WatchRequestError('no current cluster in the kubeconfig', null);
  const url = new URL(cluster.server + path);
  url.searchParams.set('watch', 'true');
  for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
  const opts: RequestOptions = {};
  await kc.applyToHTTPSOptions(opts); // may run an auth plugin: aborted meanwhile, nothing is sent
  signal.throwIfAborted();
  const request = url.protocol === 'http:' ? httpRequest : httpsRequest;
  return new Promise<void>((resolve, reject) => {
    const req = request(url, { ...opts, method: 'GET', headers: { ...opts.headers, Accept: 'application/json' }, signal });
    let done = false;
    const finish = (err: Error | null): void => {
      if (done) return;
      done = true;
      req.destroy(); // nothing left open, whatever ended it
      if (err) reject(err);
      else resolve();
    };
    // What client-node does for its watches: TCP keepalive, so a connection whose peer vanished errors out.
    req.on('socket', (s) => s.setKeepAlive(true, 30_000));
    req.on('error', finish);
    req.on('response', (res) => {
      const code = res.statusCode ?? 0;
      res.on('error', finish);
      res.on('close', () => finish(res.complete ? null : new WatchRequestError('the watch stream was cut', code === 200 ? null : code)));
      const decoder = new StringDecoder('utf8');
      if (code !== 200) {
        let body = '';
        res.on('data', (chunk: Buffer) => {
          body += decoder.write(chunk);
          if (body.length > MAX_ERROR_BODY) body = body.slice(0, MAX_ERROR_BODY);
        });
        res.on('end', () => finish(new WatchRequestError(res.statusMessage || STATUS_CODES[code] || 'error', code, { body })));
        return;
      }
      cb.onOpen();
      let pending = '';
      const line = (text: string): void => {
        if (text.trim() === '') return;
        let ev: { type?: unknown; object?: unknown };
        try {
          ev = JSON.parse(text) as { type?: unknown; object?: unknown };
        } catch (err) {
          finish(new WatchRequestError(`a watch event that is not JSON: ${text.slice(0, 80)}`, null, { cause: err }));
          return;
        }
        if (typeof ev?.type !== 'string') {
          finish(new WatchRequestError(`a watch event without a type: ${text.slice(0, 80)}`, null));
          return;
        }
        try {
          cb.onEvent(ev.type, ev.object);
        } catch (err) {
          finish(new WatchRequestError(`handling a ${ev.type} event failed`, null, { cause: err }));
        }
      };
      const consume = (text: string): void => {
        pending += text;
        let start = 0;
        for (let nl = pending.indexOf('\n'); nl >= 0 && !done; nl = pending.indexOf('\n', start)) {
          line(pending.slice(start, nl));
          start = nl + 1;
        }
        pending = pending.slice(start);
        if (pending.length > MAX_LINE) finish(new WatchRequestError(`a watch event longer than ${MAX_LINE} characters`, null));
      };
      res.on('data', (chunk: Buffer) => {
        if (!done) consume(decoder.write(chunk));
      });
      res.on('end', () => {
        if (!done) consume(`${decoder.end()}\n`);
        finish(null);
      });
    });
    req.end();
  });
}
