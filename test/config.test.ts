import { describe, expect, it } from 'vitest';
import { loadConfig, parseDuration, parseBytes, parseListen, envName, helpText, FLAGS, DEFAULT_PORT } from '../agent/config.js';
import { UsageError } from '../agent/errors.js';
import { DEFAULT_OWNER_GRACE_SECONDS, DEFAULT_PENDING_LIMIT_SECONDS } from '../agent/intent/lifecycle.js';

describe('loadConfig', () => {
  it('applies documented defaults', () => {
    const c = loadConfig(['pods']);
    expect(c.command).toBe('pods');
    expect(c.hostRoot).toBe('/');
    expect(c.procRoot).toBe('/proc');
    expect(c.runtimeTimeoutMs).toBe(2000);
    expect(c.netnsConcurrency).toBe(2);
    expect(c.reader).toBe('auto');
    expect(c.namespaceTimeoutMs).toBe(5000);
    expect(c.maxOutputBytes).toBe(2 << 20);
    expect(c.commandTimeoutMs).toBe(2000);
    expect(c.listen).toEqual({ host: '0.0.0.0', port: DEFAULT_PORT });
    expect(c.intervalMs).toBe(15000);
    expect(c.debug).toBe(true);
    expect(c.compatMetrics).toBe(true);
    expect(c.logLevel).toBe('warn');
    expect(c.runtimeEndpoints).toEqual([]);
    expect(c.dockerEndpoints).toEqual([]);
  });

  it('serve logs at info by default', () => {
    expect(loadConfig(['serve']).logLevel).toBe('info');
    expect(loadConfig(['serve', '--log-level', 'debug']).logLevel).toBe('debug');
  });

  it('takes repeatable endpoints and normalises bare paths', () => {
    const c = loadConfig([
      'pods',
      '--runtime-endpoint', 'unix:///run/a.sock',
      '--runtime-endpoint=/run/b.sock',
      '--docker-endpoint', 'unix:///var/run/docker.sock',
    ]);
    expect(c.runtimeEndpoints).toEqual(['unix:///run/a.sock', 'unix:///run/b.sock']);
    expect(c.dockerEndpoints).toEqual(['unix:///var/run/docker.sock']);
  });

  it('honours CONTAINER_RUNTIME_ENDPOINT and DOCKER_HOST unless flags are given', () => {
    const env = { CONTAINER_RUNTIME_ENDPOINT: 'unix:///run/x.sock', DOCKER_HOST: 'unix:///run/d.sock' };
    const c = loadConfig(['pods'], env);
    expect(c.runtimeEndpoints).toEqual(['unix:///run/x.sock']);
    expect(c.dockerEndpoints).toEqual(['unix:///run/d.sock']);
    const f = loadConfig(['pods', '--runtime-endpoint', 'unix:///run/y.sock'], env);
    expect(f.runtimeEndpoints).toEqual(['unix:///run/y.sock']);
    expect(f.dockerEndpoints).toEqual([]);
    // A value the agent cannot use is named by its variable, not by a flag the user never gave.
    expect(() => loadConfig(['runtimes'], { DOCKER_HOST: 'tcp://127.0.0.1:2375' }))
      .toThrow(/^DOCKER_HOST: only unix:\/\/ endpoints .*got "tcp:\/\/127\.0\.0\.1:2375"$/);
    expect(() => loadConfig(['runtimes'], { CONTAINER_RUNTIME_ENDPOINT: 'npipe:////./pipe/containerd' })).toThrow(/^CONTAINER_RUNTIME_ENDPOINT: only unix:\/\/ /);
    // A flag replaces the variable altogether: a tcp DOCKER_HOST does not stop --docker-endpoint.
    expect(loadConfig(['runtimes', '--docker-endpoint', 'unix:///run/d.sock'], { DOCKER_HOST: 'tcp://127.0.0.1:2375' }).dockerEndpoints).toEqual(['unix:///run/d.sock']);
  });

  it('reads CHAOS_AGENT_<FLAG> for every flag, flags win', () => {
    const env = { CHAOS_AGENT_HOST_ROOT: '/host', CHAOS_AGENT_INTERVAL: '30s', CHAOS_AGENT_COMPAT_METRICS: 'false' };
    const c = loadConfig(['serve'], env);
    expect(c.hostRoot).toBe('/host');
    expect(c.intervalMs).toBe(30000);
    expect(c.compatMetrics).toBe(false);
    expect(loadConfig(['serve', '--host-root', '/other'], env).hostRoot).toBe('/other');
    expect(envName('debug-token-file')).toBe('CHAOS_AGENT_DEBUG_TOKEN_FILE');
  });

  it('names the env variable in env validation errors', () => {
    expect(() => loadConfig(['serve'], { CHAOS_AGENT_INTERVAL: 'soon' })).toThrow(/CHAOS_AGENT_INTERVAL: --interval: invalid duration "soon"/);
  });

  it('parses booleans in every documented form', () => {
    expect(loadConfig(['serve', '--debug=false']).debug).toBe(false);
    expect(loadConfig(['serve', '--no-debug']).debug).toBe(false);
    expect(loadConfig(['serve', '--debug']).debug).toBe(true);
    expect(() => loadConfig(['serve', '--debug=maybe'])).toThrow(UsageError);
  });

  it('debug access: a token file or --debug-insecure, never both; insecure only with debug on', () => {
    const d = loadConfig(['serve']);
    expect([d.debug, d.debugTokenFile, d.debugInsecure]).toEqual([true, null, false]);
    expect(loadConfig(['serve', '--debug-insecure']).debugInsecure).toBe(true);
    expect(loadConfig(['serve'], { CHAOS_AGENT_DEBUG_TOKEN_FILE: '/t' }).debugTokenFile).toBe('/t');
    expect(() => loadConfig(['serve', '--debug-insecure', '--debug-token-file', '/t'])).toThrow('--debug-insecure and --debug-token-file contradict each other: give one');
    expect(() => loadConfig(['serve', '--debug-insecure', '--no-debug'])).toThrow('--debug-insecure with --debug=false: /debug/* is off, drop one');
    expect(() => loadConfig(['metrics', '--debug-insecure'])).toThrow('--debug-insecure is only valid with: serve');
  });

  it('validates inspect targets', () => {
    expect(loadConfig(['inspect', 'default/web']).args).toEqual(['default/web']);
    expect(loadConfig(['inspect', '--all']).all).toBe(true);
    expect(loadConfig(['inspect', '--netns', '/var/run/netns/x']).netns).toBe('/var/run/netns/x');
    expect(loadConfig(['inspect', '--pid', '42']).pid).toBe(42);
    expect(() => loadConfig(['inspect'])).toThrow(/exactly one of/);
    expect(() => loadConfig(['inspect', '--all', 'a/b'])).toThrow(/exactly one of/);
    expect(() => loadConfig(['inspect', 'web'])).toThrow(/expected NAMESPACE\/POD/);
    expect(() => loadConfig(['inspect', '--pid', '-3'])).toThrow(UsageError);
    expect(() => loadConfig(['inspect', '--pid', '0'])).toThrow(/at least 1/);
    expect(() => loadConfig(['inspect', '--pid', '4194305'])).toThrow(/at most 4194304/);
    // The value as typed, not as a double rounds it.
    expect(() => loadConfig(['inspect', '--pid', '99999999999999999999'])).toThrow('--pid: must be at most 4194304, got "99999999999999999999"');
    expect(() => loadConfig(['inspect', '--pid', '00'])).toThrow('--pid: must be at least 1, got "00"');
    expect(() => loadConfig(['pods', '--netns-concurrency', '65'])).toThrow(/at most 64/);
    expect(() => loadConfig(['inspect', '--netns', 'relative/path'])).toThrow(/absolute path/);
  });

  it('--kube auto|on|off (default auto) and --kubeconfig, for every command, from flags or the environment', () => {
    expect([loadConfig(['pods']).kube, loadConfig(['pods']).kubeconfig]).toEqual(['auto', null]);
    for (const mode of ['auto', 'on', 'off'] as const) expect(loadConfig(['serve', '--kube', mode]).kube).toBe(mode);
    expect(loadConfig(['metrics', '--kube=off', '--kubeconfig', '/etc/kube/config']).kubeconfig).toBe('/etc/kube/config');
    expect(loadConfig(['inspect', '--all'], { CHAOS_AGENT_KUBE: 'on', CHAOS_AGENT_KUBECONFIG: '/k' })).toMatchObject({ kube: 'on', kubeconfig: '/k' });
    expect(() => loadConfig(['serve', '--kube', 'maybe'])).toThrow('--kube: expected auto, on or off, got "maybe"');
    expect(() => loadConfig(['serve', '--kubeconfig'])).toThrow(/--kubeconfig: needs a value/);
  });

  it('--intent-owner-grace / --intent-pending-limit: serve, durations, positive, at most 1h, defaults as intent/lifecycle.ts', () => {
    const d = loadConfig(['serve']);
    expect([d.intentOwnerGraceMs, d.intentPendingLimitMs]).toEqual([30_000, 120_000]);
    expect([d.intentOwnerGraceMs, d.intentPendingLimitMs]).toEqual([DEFAULT_OWNER_GRACE_SECONDS * 1000, DEFAULT_PENDING_LIMIT_SECONDS * 1000]);
    expect(loadConfig(['serve', '--intent-owner-grace', '45s', '--intent-pending-limit=5m'])).toMatchObject({ intentOwnerGraceMs: 45_000, intentPendingLimitMs: 300_000 });
    expect(loadConfig(['serve', '--intent-owner-grace', '1h', '--intent-pending-limit', '500ms'])).toMatchObject({ intentOwnerGraceMs: 3_600_000, intentPendingLimitMs: 500 });
    expect([envName('intent-owner-grace'), envName('intent-pending-limit')]).toEqual(['CHAOS_AGENT_INTENT_OWNER_GRACE', 'CHAOS_AGENT_INTENT_PENDING_LIMIT']);
    const env = { CHAOS_AGENT_INTENT_OWNER_GRACE: '2m', CHAOS_AGENT_INTENT_PENDING_LIMIT: '10m' };
    expect(loadConfig(['serve'], env)).toMatchObject({ intentOwnerGraceMs: 120_000, intentPendingLimitMs: 600_000 });
    expect(loadConfig(['serve', '--intent-owner-grace', '5s'], env).intentOwnerGraceMs).toBe(5000);
    // The environment is read whatever the command (a DaemonSet's env, `kubectl exec ... inspect`); the flag is serve's.
    expect(loadConfig(['pods'], env).intentOwnerGraceMs).toBe(120_000);
    expect(() => loadConfig(['metrics', '--intent-owner-grace', '1m'])).toThrow('--intent-owner-grace is only valid with: serve');
    expect(() => loadConfig(['serve', '--intent-owner-grace', '0s'])).toThrow('--intent-owner-grace: duration must be positive (at least 1ms), got "0s"');
    expect(() => loadConfig(['serve', '--intent-pending-limit', '61m'])).toThrow('--intent-pending-limit: must be at most 1h, got "61m"');
    expect(() => loadConfig(['serve', '--intent-owner-grace', '2h'])).toThrow('--intent-owner-grace: must be at most 1h, got "2h"');
    expect(() => loadConfig(['serve', '--intent-pending-limit', '-5s'])).toThrow('--intent-pending-limit: invalid duration "-5s"');
    expect(() => loadConfig(['serve'], { CHAOS_AGENT_INTENT_PENDING_LIMIT: '3h' })).toThrow('CHAOS_AGENT_INTENT_PENDING_LIMIT: --intent-pending-limit: must be at most 1h, got "3h"');
    const h = helpText();
    expect(h).toMatch(/\n {2}--intent-owner-grace DURATION +serve, with --kube: .*\[default: 30s\]\n/);
    expect(h).toMatch(/\n {2}--intent-pending-limit DURATION +serve, with --kube: .*\[default: 2m\]\n/);
  });

  it('diff takes exactly one NAMESPACE/POD; a malformed one is named as inspect names it', () => {
    expect(loadConfig(['diff', 'shop/web', '--json']).args).toEqual(['shop/web']);
    expect(() => loadConfig(['diff'])).toThrow('diff takes exactly one NAMESPACE/POD');
    expect(() => loadConfig(['diff', 'shop/web', 'shop/db'])).toThrow('diff takes exactly one NAMESPACE/POD');
    expect(() => loadConfig(['diff', 'web'])).toThrow('diff: expected NAMESPACE/POD, got "web"');
    expect(() => loadConfig(['diff', 'shop/web/app'])).toThrow('diff: expected NAMESPACE/POD, got "shop/web/app"');
    expect(() => loadConfig(['inspect', 'web'])).toThrow('inspect: expected NAMESPACE/POD, got "web"');
    expect(() => loadConfig(['diff', '--all'])).toThrow(/--all is only valid with: inspect/);
  });

  it('inspect and diff take a pod without a namespace as /POD or -/POD; an empty or dot name is refused', () => {
    expect(loadConfig(['inspect', '/auditplain', '-/other', 'shop/web']).args).toEqual(['/auditplain', '-/other', 'shop/web']);
    expect(loadConfig(['diff', '/auditplain']).args).toEqual(['/auditplain']);
    expect(loadConfig(['diff', '-/auditplain']).args).toEqual(['-/auditplain']);
    expect(() => loadConfig(['inspect', 'shop/..'])).toThrow(new UsageError('inspect: ".." is not a pod name (in "shop/..")'));
    expect(() => loadConfig(['diff', '/'])).toThrow(new UsageError('diff: empty pod name in "/" (expected NAMESPACE/POD)'));
  });

  it('rejects unknown commands, flags, misplaced flags and bad values with UsageError', () => {
    expect(() => loadConfig([])).toThrow(/missing command/);
    expect(() => loadConfig(['frobnicate'])).toThrow(/unknown command/);
    expect(() => loadConfig(['pods', '--nope'])).toThrow(/unknown flag --nope/);
    expect(() => loadConfig(['pods', '--listen', ':1'])).toThrow(/only valid with: serve/);
    // --json changes only the commands that print a document: metrics and serve print Prometheus text.
    expect(() => loadConfig(['metrics', '--json'])).toThrow('--json is only valid with: runtimes, pods, inspect, diff');
    expect(() => loadConfig(['serve', '--json=false'])).toThrow('--json is only valid with: runtimes, pods, inspect, diff');
    for (const argv of [['runtimes', '--json'], ['pods', '--json'], ['inspect', '--all', '--json'], ['diff', 'shop/web', '--json']]) expect(loadConfig(argv).json).toBe(true);
    expect(() => loadConfig(['pods', 'extra'])).toThrow(/unexpected argument/);
    expect(() => loadConfig(['pods', '--runtime-endpoint', 'tcp://1.2.3.4:1'])).toThrow(/only unix:\/\//);
    expect(() => loadConfig(['pods', '--runtime-timeout'])).toThrow(/needs a value/);
    expect(() => loadConfig(['serve', '--log-level', 'loud'])).toThrow(/--log-level/);
  });

  it('help lists every flag with its default', () => {
    const h = helpText();
    for (const f of FLAGS) expect(h).toContain(`--${f.name}`);
    expect(h).toContain(`[default: 0.0.0.0:${DEFAULT_PORT}]`);
    // Where the container stats come from, as the collector reads them (collect/stats.ts): cgroups first.
    expect(h).toMatch(/\n {2}--collector-stats +serve, metrics: container CPU and memory \(chaos_daemon_container_\*\), read from each running container's cgroup under --host-root, from the runtime \(CRI ListContainerStats\) only when the cgroup cannot be read \(Docker has no such fallback\); a running container that gets no value from either has none \(the stats collector fails, saying how many\)\. \[default: true\]\n/);
    expect(loadConfig(['--help']).help).toBe(true);
  });
});

describe('value parsers', () => {
  it('durations', () => {
    expect(parseDuration('x', '500ms')).toBe(500);
    expect(parseDuration('x', '2s')).toBe(2000);
    expect(parseDuration('x', '1.5m')).toBe(90000);
    expect(parseDuration('x', '3')).toBe(3000);
    expect(() => parseDuration('x', '0s')).toThrow(/positive/);
    expect(() => parseDuration('x', '0.4ms')).toThrow(/positive/);
    expect(() => loadConfig(['runtimes', '--runtime-timeout', '0.2ms'])).toThrow(/--runtime-timeout: duration must be positive/);
    expect(parseDuration('x', '0.5ms')).toBe(1);
    expect(() => parseDuration('x', '1d')).toThrow(/invalid duration/);
    // Node's timers hold 2^31-1 ms (596h 31m 23.647s): longer ones would fire after 1 ms.
    expect(parseDuration('x', '596h')).toBe(596 * 3_600_000);
    expect(() => parseDuration('x', '597h')).toThrow(/--x: must be at most 596h/);
    expect(() => parseDuration('x', '596.01h')).toThrow(/--x: must be at most 596h/);
    expect(() => loadConfig(['serve', '--interval', '299h', '--runtime-timeout', '36000m'])).toThrow(/--runtime-timeout: must be at most 596h/);
  });
  it('sizes', () => {
    expect(parseBytes('x', '64KiB')).toBe(65536);
    expect(parseBytes('x', '16MiB')).toBe(16 << 20);
    expect(parseBytes('x', '2048')).toBe(2048);
    expect(() => parseBytes('x', '10')).toThrow(/at least 1KiB/);
    expect(() => parseBytes('x', 'big')).toThrow(/invalid size/);
  });
  it('listen addresses', () => {
    expect(parseListen('127.0.0.1:9766')).toEqual({ host: '127.0.0.1', port: 9766 });
    expect(parseListen('[::]:80')).toEqual({ host: '::', port: 80 });
    expect(parseListen(':9000')).toEqual({ host: '0.0.0.0', port: 9000 });
    expect(() => parseListen('9000')).toThrow(UsageError);
    expect(() => parseListen('a:99999')).toThrow(UsageError);
  });
});
