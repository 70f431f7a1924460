/**
 * An HTTP forward proxy that replaces the Accept header of every request, for a Prometheus scrape job's
 * `proxy_url`. Prometheus 2.42 always asks for OpenMetrics first (its Accept header cannot be configured before
 * `scrape_protocols` in 2.49), so a job scraping through this proxy with `text/plain;version=0.0.4` makes the agent
 * negotiate the text format while Prometheus' own parser reads the answer. Each answer's Content-Type is recorded.
 */
import { createServer, request, type IncomingHttpHeaders } from 'node:http';

export interface AcceptProxy {
  port: number;
  /** http://127.0.0.1:<port>, for `proxy_url`. */
  url: string;
  /** Content-Type of every answer forwarded, in order. */
  contentTypes: string[];
  close(): Promise<void>;
}

export async function startAcceptProxy(accept: string): Promise<AcceptProxy> {
  const contentTypes: string[] = [];
  const server = createServer((req, res) => {
    let target: URL;
    try {
      target = new URL(req.url ?? ''); // a proxy request carries the absolute URL
    } catch (err) {
      res.writeHead(400).end(`not a proxy request: ${(err as Error).message}\n`);
      return;
    }
    const headers: IncomingHttpHeaders = { ...req.headers, accept };
    delete headers['proxy-connection'];
    const up = request({ host: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, method: req.method, headers, timeout: 10_000 }, (ur) => {
      contentTypes.push(String(ur.headers['content-type'] ?? ''));
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on('timeout', () => up.destroy(new Error('upstream timeout')));
    up.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502).end(`upstream: ${err.message}\n`);
      else res.destroy(err);
    });
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    contentTypes,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
