/**
 * The Docker client without a real dockerd: its call codes (pure), an endpoint nobody listens on, and a fake Engine
 * API server on a unix socket for what a real dockerd will not do on demand (old or new API versions, hangs,
 * oversized answers, HTTP errors). The real dockerd's tests are in docker-client.test.ts.
 */
import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RuntimeError } from '../../agent/errors.js';
import { createDockerRuntime, dockerCallCode } from '../../agent/runtime/docker-client.js';
import { negotiateApiVersion } from '../../agent/runtime/docker-engine.js';
import type { CallObserver, Endpoint, RuntimeClient } from '../../agent/runtime/types.js';

function endpoint(socketPath: string): Endpoint {
  return { protocol: 'docker', url: `unix://${socketPath}`, socketPath, source: 'flag' };
}

type Calls = Parameters<CallObserver>[0][];

const netnsIno = (pid: number): number => statSync(`/proc/${pid}/ns/net`).ino;

describe('dockerCallCode', () => {
  it('is the HTTP status of an answer, else the gRPC code name of the same failure on CRI (never an errno)', () => {
    const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`connect ${code} /run/docker.sock`), { code });
    expect(dockerCallCode({ status: 200 }, null)).toBe('200');
    expect(dockerCallCode({ status: 404 }, null)).toBe('404');
    expect(dockerCallCode(undefined, errno('ENOENT'))).toBe('UNAVAILABLE');
    expect(dockerCallCode(undefined, errno('ECONNREFUSED'))).toBe('UNAVAILABLE');
    expect(dockerCallCode(undefined, errno('EACCES'))).toBe('UNAVAILABLE');
    expect(dockerCallCode(undefined, new Error('connection closed mid-response'))).toBe('UNAVAILABLE');
    expect(dockerCallCode(undefined, new RuntimeError('unix:///d.sock', 'GET /_ping', 'timed out after 2000ms', { code: 'TIMEOUT' }))).toBe('DEADLINE_EXCEEDED');
    expect(dockerCallCode(undefined, new RuntimeError('unix:///d.sock', 'GET /version', 'response larger than 16777216 bytes', { code: 'DOCKER_TOO_LARGE' }))).toBe('RESOURCE_EXHAUSTED');
  });
});

describe('docker client: unreachable endpoint', () => {
  it('status is down with the connect error; listPods throws RuntimeError', async () => {
    const calls: Calls = [];
    const c = createDockerRuntime(endpoint('/nonexistent/cna/docker.sock'), {
      timeoutMs: 1000,
      procRoot: '/proc',
      hostRoot: '/',
      onCall: (x) => calls.push(x),
    });
    const s = await c.status();
    expect(s).toMatchObject({ up: false, runtime: null, version: null, apiVersion: null, protocol: 'docker' });
    expect(s.error).toBe('unix:///nonexistent/cna/docker.sock GET /_ping: connect ENOENT /nonexistent/cna/docker.sock');
    await expect(c.listPods()).rejects.toBeInstanceOf(RuntimeError);
    expect(c.requestCount).toBe(2);
    // A transport failure is the gRPC name a CRI call gets for it, not the errno (which the error above keeps).
    expect(calls.map((x) => x.code)).toEqual(['UNAVAILABLE', 'UNAVAILABLE']);
    c.close();
  });
});

/** A tiny HTTP server on a unix socket that plays Docker with whatever the test needs. */
async function fakeDocker(handler: http.RequestListener): Promise<{ socket: string; close: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'cna-fakedocker-'));
  const socket = join(dir, 'docker.sock');
  const server = http.createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, resolve);
  });
  return {
    socket,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

describe('docker client: API negotiation and limits (fake Engine API server)', () => {
  const servers: Array<{ close: () => Promise<void> }> = [];
  const clients: RuntimeClient[] = [];
  afterAll(async () => {
    for (const c of clients) c.close();
    for (const s of servers) await s.close();
  });
  const make = async (handler: http.RequestListener, timeoutMs = 2000): Promise<{ client: RuntimeClient; calls: Calls }> => {
    const srv = await fakeDocker(handler);
    servers.push(srv);
    const calls: Calls = [];
    const client = createDockerRuntime(endpoint(srv.socket), { timeoutMs, procRoot: '/proc', hostRoot: '/', onCall: (c) => calls.push(c) });
    clients.push(client);
    return { client, calls };
  };
  const ping = (res: http.ServerResponse, api: string): void => {
    res.writeHead(200, { 'Api-Version': api, 'Content-Type': 'text/plain' });
    res.end('OK');
  };
  const json = (res: http.ServerResponse, body: unknown): void => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  it('negotiateApiVersion: min(client max 1.47, server), refuses < 1.40 and a missing header', () => {
    expect(negotiateApiVersion('e', '1.41')).toBe('1.41');
    expect(negotiateApiVersion('e', '1.40')).toBe('1.40');
    expect(negotiateApiVersion('e', '1.47')).toBe('1.47');
    expect(negotiateApiVersion('e', '1.51')).toBe('1.47');
    expect(negotiateApiVersion('e', '2.0')).toBe('1.47');
    expect(() => negotiateApiVersion('e', '1.39')).toThrow('Docker Engine API 1.39 is too old: at least 1.40 (Docker 19.03) is required');
    expect(() => negotiateApiVersion('e', undefined)).toThrow('no valid Api-Version header');
    expect(() => negotiateApiVersion('e', '1.4x')).toThrow('no valid Api-Version header');
  });

  it('a server below API 1.40 is reported down with a clear error and never listed', async () => {
    const paths: string[] = [];
    const { client } = await make((req, res) => {
      paths.push(req.url!);
      ping(res, '1.39');
    });
    const s = await client.status();
    expect(s.up).toBe(false);
    expect(s.error).toContain('Docker Engine API 1.39 is too old: at least 1.40 (Docker 19.03) is required');
    await expect(client.listPods()).rejects.toMatchObject({ code: 'DOCKER_API_TOO_OLD' });
    expect(paths).toEqual(['/_ping', '/_ping']);
  });

  it('a newer server is spoken to at /v1.47; invalid IDs are skipped; PIDs validated against /proc', async () => {
    const paths: string[] = [];
    const self = '0123456789abcdef'.repeat(4);
    const { client } = await make((req, res) => {
      paths.push(req.url!);
      if (req.url === '/_ping') return ping(res, '1.51');
      if (req.url === '/v1.47/version') return json(res, { Version: '99.0.0', ApiVersion: '1.51' });
      if (req.url === '/v1.47/containers/json?all=1')
        return json(res, [
          { Id: '../../etc/passwd', Names: ['/evil'], State: 'running', Labels: {} },
          { Id: 'f'.repeat(64), Names: ['/badpid'], State: 'running', Labels: null, HostConfig: { NetworkMode: 'host' } },
          { Id: self, Names: ['/me'], State: 'running', Labels: { unrelated: 'x' }, HostConfig: { NetworkMode: 'default' } },
        ]);
      if (req.url === `/v1.47/containers/${'f'.repeat(64)}/json`) return json(res, { State: { Pid: -5 } });
      if (req.url === `/v1.47/containers/${self}/json`) return json(res, { State: { Pid: process.pid }, NetworkSettings: { SandboxKey: '' } });
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end('{"message":"no such thing"}');
    });
    expect(await client.status()).toMatchObject({ up: true, version: '99.0.0', apiVersion: '1.47' });
    const pods = await client.listPods();
    expect(pods).toEqual([
      {
        namespace: '',
        name: 'badpid',
        uid: '',
        runtime: 'docker',
        endpoint: client.endpoint.url,
        sandboxId: 'f'.repeat(64),
        state: 'SANDBOX_READY',
        pid: null,
        hostNetwork: true,
        netns: null,
        reason: `docker container ${'f'.repeat(64)}: invalid pid -5`,
        containers: [{ id: 'f'.repeat(64), name: 'badpid', state: 'CONTAINER_RUNNING', pid: null }],
      },
      {
        namespace: '',
        name: 'me',
        uid: '',
        runtime: 'docker',
        endpoint: client.endpoint.url,
        sandboxId: self,
        state: 'SANDBOX_READY',
        pid: process.pid,
        hostNetwork: false,
        netns: { inode: netnsIno(process.pid), path: `/proc/${process.pid}/ns/net` },
        containers: [{ id: self, name: 'me', state: 'CONTAINER_RUNNING', pid: process.pid }],
      },
    ]);
    // The bad ID never reached a URL; the invalid PID is cached (not re-inspected).
    expect(paths.some((p) => p.includes('..') || p.includes('etc'))).toBe(false);
    await client.listPods();
    expect(paths.slice(-1)).toEqual(['/v1.47/containers/json?all=1']);
    expect(paths.filter((p) => p.startsWith('/v1.47/containers/f')).length).toBe(1);
  });

  it('a hanging server times out at timeoutMs with a RuntimeError, observed as DEADLINE_EXCEEDED', async () => {
    const { client, calls } = await make((req, res) => {
      if (req.url === '/_ping') return ping(res, '1.41');
      // never answers the list
    }, 300);
    const t0 = Date.now();
    const err = await client.listPods().then(
      () => null,
      (e: unknown) => e,
    );
    const ms = Date.now() - t0;
    expect(err).toBeInstanceOf(RuntimeError);
    expect((err as RuntimeError).code).toBe('TIMEOUT');
    expect((err as RuntimeError).message).toBe(`${client.endpoint.url} GET /containers/json: timed out after 300ms`);
    expect(ms).toBeGreaterThanOrEqual(290);
    expect(ms).toBeLessThan(10_000); // at the deadline, not never (a loaded machine delays the timer, not by 10 s)
    expect(calls.map((c) => `${c.method} ${c.code}`)).toEqual(['GET /_ping 200', 'GET /containers/json DEADLINE_EXCEEDED']);
  });

  it('responses over 16 MiB are cut off (declared or streamed), observed as RESOURCE_EXHAUSTED', async () => {
    const { client, calls } = await make((req, res) => {
      if (req.url === '/_ping') return ping(res, '1.41');
      if (req.url === '/v1.41/version') {
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(17 << 20) });
        res.write('{');
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      const chunk = Buffer.alloc(1 << 20, 0x20);
      for (let i = 0; i < 17; i++) res.write(chunk);
      res.end();
    }, 5000);
    const s = await client.status();
    expect(s.up).toBe(false);
    expect(s.error).toBe(`${client.endpoint.url} GET /version: response larger than 16777216 bytes`);
    await expect(client.listPods()).rejects.toMatchObject({ code: 'DOCKER_TOO_LARGE' });
    // A failed transfer makes the client negotiate again (the daemon may have restarted): the second _ping.
    expect(calls.map((c) => `${c.method} ${c.code}`)).toEqual(['GET /_ping 200', 'GET /version RESOURCE_EXHAUSTED', 'GET /_ping 200', 'GET /containers/json RESOURCE_EXHAUSTED']);
  });

  it('HTTP errors carry the status and the daemon message, observed with the status', async () => {
    const { client, calls } = await make((req, res) => {
      if (req.url === '/_ping') return ping(res, '1.41');
      res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end('{"message":"boom"}');
    });
    await expect(client.listPods()).rejects.toThrow(`${client.endpoint.url} GET /containers/json: HTTP 500: boom`);
    expect(calls.map((c) => `${c.method} ${c.code}`)).toEqual(['GET /_ping 200', 'GET /containers/json 500']);
  });
});
