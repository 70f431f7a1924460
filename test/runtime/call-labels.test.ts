import { describe, expect, it } from 'vitest';
import { CallLabels, runtimeLabel } from '../../agent/runtime/call-labels.js';
import type { CallObserver } from '../../agent/runtime/types.js';

type Call = Parameters<CallObserver>[0];

const CTR = 'unix:///run/containerd/containerd.sock';
const DEAD = 'unix:///run/dead.sock';

function call(endpoint: string, runtime: string, method: string, code = 'OK'): Call {
  return { runtime, endpoint, method, code, seconds: 0.001 };
}

describe('runtimeLabel', () => {
  it('is the runtime the status names, else its protocol', () => {
    expect(runtimeLabel({ runtime: 'containerd', protocol: 'cri' })).toBe('containerd');
    expect(runtimeLabel({ runtime: null, protocol: 'cri' })).toBe('cri');
    expect(runtimeLabel({ runtime: null, protocol: 'docker' })).toBe('docker');
  });
});

describe('CallLabels', () => {
  it("labels an endpoint's first Version call, made before its runtime is known, as its later calls and runtime_up", () => {
    const seen: Call[] = [];
    const labels = new CallLabels((c) => seen.push(c));
    // Collection 1: the probe's Version call goes out labelled as the client knew it then.
    labels.probing(CTR);
    labels.observe(call(CTR, 'unknown', 'Version'));
    expect(seen).toEqual([]);
    labels.settle({ endpoint: CTR, runtime: 'containerd', protocol: 'cri' });
    labels.observe(call(CTR, 'containerd', 'ListPodSandbox'));
    // Collection 2.
    labels.probing(CTR);
    labels.observe(call(CTR, 'containerd', 'Version'));
    labels.settle({ endpoint: CTR, runtime: 'containerd', protocol: 'cri' });
    expect(seen.map((c) => [c.runtime, c.method])).toEqual([['containerd', 'Version'], ['containerd', 'ListPodSandbox'], ['containerd', 'Version']]);
  });

  it('labels a CRI endpoint never up `cri`, as chaos_daemon_runtime_up does, and keeps the other fields', () => {
    const seen: Call[] = [];
    const labels = new CallLabels((c) => seen.push(c));
    labels.probing(DEAD);
    labels.observe(call(DEAD, 'unknown', 'Version', 'UNAVAILABLE'));
    labels.settle({ endpoint: DEAD, runtime: null, protocol: 'cri' });
    expect(seen).toEqual([{ runtime: 'cri', endpoint: DEAD, method: 'Version', code: 'UNAVAILABLE', seconds: 0.001 }]);
  });

  it('holds each endpoint apart; a probe released without a status observes its calls with the last label', () => {
    const seen: Call[] = [];
    const labels = new CallLabels((c) => seen.push(c));
    labels.probing(CTR);
    labels.probing(DEAD);
    labels.observe(call(DEAD, 'unknown', 'Version', 'UNAVAILABLE'));
    labels.observe(call(CTR, 'unknown', 'Version'));
    labels.settle({ endpoint: CTR, runtime: 'containerd', protocol: 'cri' });
    expect(seen.map((c) => [c.endpoint, c.runtime])).toEqual([[CTR, 'containerd']]);
    labels.release(DEAD);
    expect(seen.map((c) => [c.endpoint, c.runtime])).toEqual([[CTR, 'containerd'], [DEAD, 'unknown']]);
    // Released: later calls are no longer held.
    labels.observe(call(DEAD, 'unknown', 'Version', 'UNAVAILABLE'));
    expect(seen).toHaveLength(3);
  });
});
