/**
 * watchStream (the informer's watch request) against a plain HTTP server driven by each test: events split
 * across writes and several in one write, an error answer with a Status body, a line that is not JSON, and the
 * caller's signal aborting the request before its headers and while it streams. Each case also checks, on the
 * server side, that the request's connection is closed once watchStream has settled.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { watchStream, WatchRequestError } from '../../agent/intent/watch-stream.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

let server: Server;
let handler: Handler = (_req, res) => res.end();
/** Per request: its URL and whether its connection is still open. */
const seen: { url: string; headers: IncomingMessage['headers']; open: boolean }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const rec = { url: req.url ?? '', headers: req.headers, open: true };
    seen.push(rec);
    req.socket.once('close', () => (rec.open = false));
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

afterEach(() => {
  seen.length = 0;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  const port = (server.address() as { port: number }).port;
  kc.loadFromOptions({
    clusters: [{ name: 'plain', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'secret-token' }],
    contexts: [{ name: 'c', cluster: 'plain', user: 'u' }],
    currentContext: 'c',
  });
  return kc;
}

async function closed(): Promise<boolean[]> {
  const deadline = Date.now() + 10_000;
  while (seen.some((s) => s.open) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  return seen.map((s) => s.open);
}

const PATH = '/apis/chaos-mesh.org/v1alpha1/podnetworkchaos';
const line = (type: string, rv: string): string => `${JSON.stringify({ type, object: { metadata: { name: 'x', resourceVersion: rv } } })}\n`;

describe('watchStream', () => {
  it('delivers each event once, in order, whatever the writes; resolves at the end of the stream', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      const two = line('ADDED', '5') + line('MODIFIED', '6');
      const third = line('BOOKMARK', '7');
      res.write(two.slice(0, 10));
      setTimeout(() => res.write(two.slice(10) + third.slice(0, 3)), 20);
      setTimeout(() => res.end(third.slice(3)), 40);
    };
    const events: string[] = [];
    let opened = 0;
    await watchStream(kubeConfig(), PATH, { resourceVersion: '4', allowWatchBookmarks: true, timeoutSeconds: 30, skipped: undefined }, new AbortController().signal, {
      onOpen: () => opened++,
      onEvent: (type, object) => events.push(`${type}@${(object as { metadata: { resourceVersion: string } }).metadata.resourceVersion}`),
    });
    expect(opened).toBe(1);
    expect(events).toEqual(['ADDED@5', 'MODIFIED@6', 'BOOKMARK@7']);
    const url = new URL(seen[0]!.url, 'http://x');
    expect(url.pathname).toBe(PATH);
    expect(Object.fromEntries(url.searchParams)).toEqual({ watch: 'true', resourceVersion: '4', allowWatchBookmarks: 'true', timeoutSeconds: '30' });
    expect(seen[0]!.headers.authorization).toBe('Bearer secret-token');
    expect(await closed()).toEqual([false]);
  });

  it('an answer other than 200: WatchRequestError with the status and the Status body; onOpen never called', async () => {
    const status = { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'podnetworkchaos is forbidden', reason: 'Forbidden', code: 403 };
    handler = (_req, res) => res.writeHead(403, { 'Content-Type': 'application/json' }).end(JSON.stringify(status));
    let opened = 0;
    const err = await watchStream(kubeConfig(), PATH, {}, new AbortController().signal, { onOpen: () => opened++, onEvent: () => undefined }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WatchRequestError);
    expect(err).toMatchObject({ statusCode: 403, code: 'KUBE_WATCH', message: 'Forbidden' });
    expect(JSON.parse((err as WatchRequestError).body!)).toEqual(status);
    expect(opened).toBe(0);
    expect(await closed()).toEqual([false]);
  });

  it('a line that is not JSON ends the watch with an error (no event lost silently) and closes the request', async () => {
    handler = (_req, res) => {
      res.writeHead(200);
      res.write(`${line('ADDED', '5')}{"type": "MODIFIED", "obj\n${line('DELETED', '7')}`); // the stream stays open
    };
    const events: string[] = [];
    const err = await watchStream(kubeConfig(), PATH, {}, new AbortController().signal, { onOpen: () => undefined, onEvent: (type) => events.push(type) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WatchRequestError);
    expect((err as WatchRequestError).message).toBe('a watch event that is not JSON: {"type": "MODIFIED", "obj');
    expect((err as WatchRequestError).cause).toBeInstanceOf(SyntaxError);
    expect(events).toEqual(['ADDED']);
    expect(await closed()).toEqual([false]);
  });

  it('the signal aborted while the server has not answered: AbortError, the connection closed', async () => {
    handler = () => undefined; // never answers
    const ac = new AbortController();
    let opened = 0;
    const p = watchStream(kubeConfig(), PATH, {}, ac.signal, { onOpen: () => opened++, onEvent: () => undefined }).catch((e: unknown) => e);
    while (seen.length === 0) await new Promise((r) => setTimeout(r, 10));
    expect(seen[0]!.open).toBe(true);
    ac.abort();
    expect(await p).toMatchObject({ name: 'AbortError' });
    expect(opened).toBe(0);
    expect(await closed()).toEqual([false]);
  });

  it('the signal aborted while the stream is open: AbortError, the connection closed', async () => {
    handler = (_req, res) => res.writeHead(200).write(line('ADDED', '5'));
    const ac = new AbortController();
    const events: string[] = [];
    const p = watchStream(kubeConfig(), PATH, {}, ac.signal, { onOpen: () => undefined, onEvent: (type) => events.push(type) }).catch((e: unknown) => e);
    while (events.length === 0) await new Promise((r) => setTimeout(r, 10));
    ac.abort();
    expect(await p).toMatchObject({ name: 'AbortError' });
    expect(events).toEqual(['ADDED']);
    expect(await closed()).toEqual([false]);
  });

  it('a signal already aborted: nothing is sent', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(watchStream(kubeConfig(), PATH, {}, ac.signal, { onOpen: () => undefined, onEvent: () => undefined })).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen).toEqual([]);
  });
});
