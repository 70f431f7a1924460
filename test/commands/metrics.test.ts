/** `metrics` with nothing reachable: the text is printed anyway (it says why), exit 1. Needs dist/ (npm run build). */
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { lintExposition, PROM_CLIENT_GAUGE_TOTALS, valueOf } from '../helpers/metrics-lint.js';

const CLI = new URL('../../bin/chaos-node-agent.js', import.meta.url).pathname;

describe('metrics command without a reachable runtime', () => {
  it('prints the metrics, says why on stderr and exits 1', async () => {
    const r = await execa(process.execPath, [CLI, 'metrics', '--runtime-endpoint', 'unix:///nonexistent/h6.sock', '--runtime-timeout', '500ms'], {
      reject: false, timeout: 30_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, extendEnv: false,
    });
    expect(r.exitCode).toBe(1);
    const text = String(r.stdout);
    expect(lintExposition(text, { allowNonCounterTotal: PROM_CLIENT_GAUGE_TOTALS })).toEqual([]);
    expect(valueOf(text, 'chaos_daemon_runtime_up', { endpoint: 'unix:///nonexistent/h6.sock' })).toBe(0);
    expect(valueOf(text, 'chaos_daemon_scrape_collector_success', { collector: 'runtime' })).toBe(0);
    expect(String(r.stderr)).toMatch(/^chaos-node-agent metrics: no container runtime reachable \(unix:\/\/\/nonexistent\/h6\.sock: /m);
  });

  it('runs only the collectors the flags leave on (--no-collector-*), as node_exporter does', async () => {
    const run = async (...flags: string[]) => {
      const r = await execa(process.execPath, [CLI, 'metrics', '--runtime-endpoint', 'unix:///nonexistent/h6.sock', '--runtime-timeout', '200ms', ...flags], {
        reject: false, timeout: 30_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, extendEnv: false,
      });
      const collectors = [...String(r.stdout).matchAll(/^chaos_daemon_scrape_collector_success\{collector="(\w+)"\}/gm)].map((m) => m[1]).sort();
      return { exitCode: r.exitCode, collectors };
    };
    expect(await run()).toEqual({ exitCode: 1, collectors: ['bpm', 'netns', 'proc', 'runtime', 'stats'] });
    expect(await run('--no-collector-stats', '--collector-bpm=false')).toEqual({ exitCode: 1, collectors: ['netns', 'proc', 'runtime'] });
    // bpm counts from the proc collector's scan: off with it.
    expect(await run('--no-collector-proc', '--no-collector-netns')).toEqual({ exitCode: 1, collectors: ['runtime', 'stats'] });
    const bad = await execa(process.execPath, [CLI, 'inspect', '--all', '--no-collector-stats'], { reject: false, timeout: 30_000 });
    expect([bad.exitCode, String(bad.stderr)]).toEqual([2, 'chaos-node-agent: --collector-stats is only valid with: serve, metrics']);
  });

  it('rejects invalid flag values with exit 2', async () => {
    const r = await execa(process.execPath, [CLI, 'serve', '--interval', 'soon'], { reject: false, timeout: 30_000 });
    expect(r.exitCode).toBe(2);
    expect(String(r.stderr)).toBe('chaos-node-agent: --interval: invalid duration "soon" (examples: 500ms, 2s, 1m)');
  });
});
