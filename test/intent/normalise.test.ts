/**
 * API JSON -> intent model: Chaos Mesh-shaped objects (test/helpers/chaos-mesh-crds.ts) give exact values in
 * base units; bad entries are named in `problems` and left out; any JSON at all gives a value or null, never a
 * throw (fast-check).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ipsetCidr,
  normaliseExperiment,
  normalisePodHttpChaos,
  normalisePodIoChaos,
  normalisePodNetworkChaos,
} from '../../agent/intent/normalise.js';
import { RESOURCES } from '../../agent/intent/resources.js';
import { chainName, ipsetName } from '../helpers/chaos-mesh.js';
import { experiment, partitionEntries, podNetworkChaos } from '../helpers/chaos-mesh-crds.js';

describe('PodNetworkChaos', () => {
  it('a partition: ipsets with members as ipset save prints them, the chain entry, sources kept', () => {
    const e = partitionEntries('shop', 'web-to-db', ['10.9.9.9', '10.9.9.10']);
    const n = normalisePodNetworkChaos(podNetworkChaos('shop', 'web', e))!;
    expect(n.namespace).toBe('shop');
    expect(n.name).toBe('web');
    expect(n.observedGeneration).toBe(1);
    expect(n.problems).toEqual([]);
    expect(n.ipsets).toEqual([
      { name: ipsetName('web-to-db', 'net_tgt'), type: 'hash:net', members: ['10.9.9.9', '10.9.9.10'], source: 'shop/web-to-db' },
      { name: ipsetName('web-to-db', 'netport_tgt'), type: 'hash:net,port', members: [], source: 'shop/web-to-db' },
      { name: ipsetName('web-to-db', 'set_tgt'), type: 'list:set', members: [ipsetName('web-to-db', 'net_tgt'), ipsetName('web-to-db', 'netport_tgt')], source: 'shop/web-to-db' },
    ]);
    expect(n.chains).toEqual([{ name: chainName('OUTPUT', 'web-to-db'), direction: 'output', ipsets: [ipsetName('web-to-db', 'set_tgt')], device: 'eth0', source: 'shop/web-to-db' }]);
  });

  it('cidrAndPorts become `cidr,tcp:port`; hash:net stores networks', () => {
    const n = normalisePodNetworkChaos(podNetworkChaos('a', 'b', {
      ipsets: [
        { name: 'x_netport_tgt', ipsetType: 'hash:net,port', cidrAndPorts: [{ cidr: '10.96.0.10/32', port: 53 }, { cidr: '10.1.2.3/24', port: 80 }], source: 'a/x' },
        { name: 'x_net_tgt', ipsetType: 'hash:net', cidrs: ['10.1.2.3/24', 'FD00::1/128', 'fd00::/64'], source: 'a/x' },
      ],
    }))!;
    expect(n.ipsets.map((s) => s.members)).toEqual([['10.96.0.10,tcp:53', '10.1.2.0/24,tcp:80'], ['10.1.2.0/24', 'fd00::1', 'fd00::/64']]);
    expect(ipsetCidr('192.168.7.200/30')).toBe('192.168.7.200/30');
    expect(ipsetCidr('192.168.7.201/30')).toBe('192.168.7.200/30');
    expect(ipsetCidr('10.0.0.1')).toBe('10.0.0.1');
  });

  it('tcs: netem parameters as chaos-daemon hands them to tc, tbf from BandwidthSpec', () => {
    const n = normalisePodNetworkChaos(podNetworkChaos('a', 'b', {
      tcs: [
        {
          type: 'netem', source: 'a/delay', device: 'eth0',
          delay: { latency: '100ms', jitter: '10ms', correlation: '25', reorder: { reorder: '20', correlation: '50', gap: 5 } },
          loss: { loss: '5', correlation: '10' },
          duplicate: { duplicate: '1', correlation: '2' },
          corrupt: { corrupt: '0.5', correlation: '3' },
          rate: { rate: '1mbit' },
        },
        { type: 'bandwidth', source: 'a/bw', ipset: 'bw_set_batgt', bandwidth: { rate: '8mbit', limit: 20000, buffer: 10240, peakrate: 16000000, minburst: 1600 } },
        // correlation without jitter: tc's syntax cannot carry it; reorder without delay: netem ignores it.
        { type: 'netem', source: 'a/loss', delay: { latency: '0ms', correlation: '25', reorder: { reorder: '20', gap: 1 } } },
      ],
    }))!;
    expect(n.problems).toEqual([]);
    const [netem, bw, quirks] = n.tcs;
    expect(netem!.device).toBe('eth0');
    expect(netem!.ipset).toBeNull();
    expect(netem!.netem!.delaySeconds).toBeCloseTo(0.1, 12);
    expect(netem!.netem).toMatchObject({ jitterSeconds: 0.01, delayCorrelation: 0.25, loss: 0.05, lossCorrelation: 0.1, duplicate: 0.01, duplicateCorrelation: 0.02, corrupt: 0.005, corruptCorrelation: 0.03, reorder: 0.2, reorderCorrelation: 0.5, gap: 5, rateBytesPerSecond: 125000 });
    expect(netem!.text).toBe('delay 100ms jitter 10ms correlation 25% reorder 20% gap 5 loss 5% (correlation 10%) duplicate 1% (correlation 2%) corrupt 0.5% (correlation 3%) rate 1mbit');
    expect(bw!.device).toBe('eth0'); // chaos-daemon's default device
    expect(bw!.ipset).toBe('bw_set_batgt');
    expect(bw!.tbf).toEqual({ rateBytesPerSecond: 1_000_000, burstBytes: 10240, limitBytes: 20000, peakrateBytesPerSecond: 2_000_000, mtuBytes: 1600 });
    expect(quirks!.netem).toMatchObject({ delaySeconds: 0, delayCorrelation: 0, reorder: 0, gap: 0 });
  });

  it('bad entries are left out and named; a missing source stays empty', () => {
    const n = normalisePodNetworkChaos(podNetworkChaos('a', 'b', {
      ipsets: [{ name: 's', ipsetType: 'hash:ip' }, { name: 'ok', ipsetType: 'hash:net', cidrs: ['10.0.0.1/32'] }],
      iptables: [{ name: 'OUTPUT/x', direction: 'sideways' }],
      tcs: [
        { type: 'netem', source: 'a/x', delay: { latency: 'soon' } },
        { type: 'bandwidth', source: 'a/x', bandwidth: { rate: '1mbit' } },
        { type: 'shaper' },
        { type: 'netem', source: 'a/x', loss: { loss: 'lots' } },
      ],
    }))!;
    expect(n.ipsets.map((s) => [s.name, s.source])).toEqual([['ok', '']]);
    expect(n.chains).toEqual([]);
    expect(n.tcs).toEqual([]);
    expect(n.problems).toEqual([
      'spec.ipsets: entry s has no valid name or ipsetType',
      'spec.iptables: entry OUTPUT/x has no valid name or direction',
      'spec.tcs[0]: invalid delay',
      'spec.tcs[1]: invalid bandwidth (rate, limit and buffer are required)',
      'spec.tcs[2]: unknown type shaper',
      'spec.tcs[3]: invalid loss',
    ]);
  });

  it('objects without a name or namespace are null', () => {
    expect(normalisePodNetworkChaos({ metadata: { name: 'x' }, spec: {} })).toBeNull();
    expect(normalisePodNetworkChaos(null)).toBeNull();
    expect(normalisePodNetworkChaos('PodNetworkChaos')).toBeNull();
  });
});

describe('experiments and the other Pod*Chaos kinds', () => {
  it('records keep id, phase and counts; events are dropped', () => {
    const e = normaliseExperiment('NetworkChaos', experiment('shop', 'web-to-db', 'partition', [{ id: 'shop/web' }, { id: 'shop/db', phase: 'Not Injected', selectorKey: '.Target' }], { instances: { 'shop/web': 3 } }))!;
    expect(e).toEqual({
      kind: 'NetworkChaos', namespace: 'shop', name: 'web-to-db', action: 'partition', desiredPhase: 'Run', deleting: false, truncated: false,
      records: [
        { id: 'shop/web', selectorKey: '.', phase: 'Injected', injectedCount: 1, recoveredCount: 0 },
        { id: 'shop/db', selectorKey: '.Target', phase: 'Not Injected', injectedCount: 0, recoveredCount: 0 },
      ],
      instances: [], // NetworkChaos' instances are generations, not processes
    });
  });

  it("StressChaos' instances: the stress-ng and memStress pids and start times per record id", () => {
    const e = normaliseExperiment('StressChaos', experiment('load', 'burn', '', [{ id: 'shop/web/app' }], {
      instances: { 'shop/web/app': { uid: '4242', startTime: '2026-11-29T08:00:00Z', memoryUid: '4243', memoryStartTime: '2026-11-29T08:00:01Z' } },
    }))!;
    expect(e.action).toBeNull();
    expect(e.instances).toEqual([{ key: 'shop/web/app', uid: '4242', memoryUid: '4243', startTime: '2026-11-29T08:00:00Z', memoryStartTime: '2026-11-29T08:00:01Z' }]);
  });

  it('PodHttpChaos and PodIOChaos: rules / actions with their sources, the process pid and start time', () => {
    const h = normalisePodHttpChaos({ metadata: { namespace: 'shop', name: 'web', generation: 3 }, spec: { rules: [{ source: 'shop/abort', port: 80, target: 'Request', selector: {}, actions: { abort: true } }] }, status: { pid: 777, startTime: 1764403200123, observedGeneration: 2, failedMessage: 'rpc error: boom' } })!;
    expect(h).toEqual({ namespace: 'shop', name: 'web', rules: [{ source: 'shop/abort', port: 80, target: 'Request' }], pid: 777, startTime: 1764403200123, generation: 3, observedGeneration: 2, failedMessage: 'rpc error: boom' });
    const io = normalisePodIoChaos({ metadata: { namespace: 'shop', name: 'db' }, spec: { volumeMountPath: '/data', container: 'db', actions: [{ type: 'latency', path: '/data/**', source: 'shop/slow-disk', latency: '10ms' }] }, status: { pid: 888, failedMessage: '' } })!;
    expect(io).toEqual({ namespace: 'shop', name: 'db', volumeMountPath: '/data', container: 'db', actions: [{ type: 'latency', path: '/data/**', source: 'shop/slow-disk' }], pid: 888, startTime: null, generation: null, observedGeneration: null, failedMessage: null });
  });
});

describe('totality', () => {
  it('any JSON value gives an intent or null, never a throw', () => {
    const meta = fc.record({ namespace: fc.string({ maxLength: 5 }), name: fc.string({ maxLength: 5 }) }, { requiredKeys: [] });
    const object = fc.record({ metadata: fc.oneof(meta, fc.jsonValue()), spec: fc.jsonValue(), status: fc.jsonValue() }, { requiredKeys: [] });
    fc.assert(
      fc.property(fc.oneof(object, fc.jsonValue()), (raw) => {
        for (const r of RESOURCES) r.normalise(raw);
      }),
      { numRuns: 1500 },
    );
  });

  it('and so do structurally plausible specs with wrong types everywhere', () => {
    const anyEntry = fc.dictionary(fc.constantFrom('name', 'ipsetType', 'cidrs', 'cidrAndPorts', 'setNames', 'source', 'direction', 'ipsets', 'device', 'type', 'delay', 'loss', 'bandwidth', 'rate', 'ipset'), fc.jsonValue({ maxDepth: 2 }));
    fc.assert(
      fc.property(fc.array(anyEntry, { maxLength: 4 }), fc.array(anyEntry, { maxLength: 4 }), fc.array(anyEntry, { maxLength: 4 }), (ipsets, iptables, tcs) => {
        const n = normalisePodNetworkChaos(podNetworkChaos('a', 'b', { ipsets, iptables, tcs }));
        expect(n).not.toBeNull();
        expect(n!.ipsets.length + n!.chains.length + n!.tcs.length + n!.problems.length).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 500 },
    );
  });
});
