import { describe, expect, it } from 'vitest';
import { baseOf, notInspected, reportFrom } from '../../agent/collect/report.js';
import { emptyNetnsState, type NetnsState } from '../../agent/netns/state.js';
import type { PodInfo } from '../../agent/runtime/types.js';

const POD: PodInfo = {
  namespace: 'ns', name: 'web', uid: 'u', runtime: 'containerd', endpoint: 'unix:///x', sandboxId: 'sb', state: 'SANDBOX_READY',
  pid: 7, hostNetwork: false, netns: { inode: 4026532000, path: '/proc/7/ns/net' }, containers: [],
};

describe('reportFrom', () => {
  it('copies the base and the state\'s dumps, extra errors first, and only the optional fields the state has', () => {
    const state: NetnsState = { ...emptyNetnsState(), errors: [{ tool: 'tc', reason: 'io', message: 'boom' }], spawns: 3, reader: 'netlink', sources: [{ source: 'tc', status: 'complete' }] } as NetnsState;
    const chaos = notInspected('x');
    const r = reportFrom(baseOf(POD), state, chaos, 3, ['first']);
    expect(r).toEqual({
      namespace: 'ns', name: 'web', runtime: 'containerd', netns: POD.netns, pod: POD, chaos,
      iptables: state.iptables, ipsets: state.ipsets, tc: state.tc, ipRules: state.ipRules, dnsChaos: [],
      errors: ['first', 'tc: boom (io)'], spawns: 3, reader: 'netlink', sources: state.sources,
    });
    for (const k of ['notes', 'links', 'addresses', 'routes', 'ebtables', 'proc', 'hostNetwork']) expect(k in r).toBe(false);
    expect(r.iptables).toBe(state.iptables);
  });

  it('carries notes, links, addresses, routes and ebtables when the reader read them', () => {
    const state = { ...emptyNetnsState(), notes: ['skipped x'], links: [], addresses: [], routes: [], ebtables: [] } as NetnsState;
    const r = reportFrom(baseOf(POD), state, notInspected('x'), 0);
    expect(r.notes).toEqual(['skipped x']);
    expect(r.links).toBe(state.links);
    expect(r.addresses).toBe(state.addresses);
    expect(r.routes).toBe(state.routes);
    expect(r.ebtables).toBe(state.ebtables);
    expect(r.reader).toBeNull();
    expect(r.sources).toEqual([]);
  });
});
