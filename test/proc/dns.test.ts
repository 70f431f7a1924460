import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareResolv, parseNameservers } from '../../agent/proc/dns.js';
import type { RootFile } from '../../agent/proc/pod-root.js';

const file = (text: string, truncated = false): RootFile => ({ podPath: '/etc/x', text, bytes: text.length, truncated });
// kubelet's resolv.conf for a ClusterFirst pod, and what dns_server.go's sed turns it into.
const KUBELET = 'search shop.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n';
const CHAOS = 'search shop.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.99.53\noptions ndots:5\n';

describe('DNSChaos from resolv.conf and its backup', () => {
  it('reads nameserver lines only, in order', () => {
    expect(parseNameservers('# nameserver 1.1.1.1\n; x\nnameserver 10.0.0.1\n  nameserver\t10.0.0.2 # c\nsearch a\nnameserver\n')).toEqual(['10.0.0.1', '10.0.0.2']);
  });
  it('no backup: nothing to say (the pod never had DNSChaos)', () => {
    expect(compareResolv(file(KUBELET), null)).toEqual({ state: 'none', nameservers: ['10.96.0.10'], backupNameservers: null });
  });
  it('backup with different nameservers: active, naming both lists', () => {
    expect(compareResolv(file(CHAOS), file(KUBELET))).toEqual({ state: 'active', nameservers: ['10.96.99.53'], backupNameservers: ['10.96.0.10'] });
  });
  it('backup equal to resolv.conf (recovery copied it back): scaffolding', () => {
    expect(compareResolv(file(KUBELET), file(KUBELET)).state).toBe('scaffolding');
  });
  it('an extra or missing nameserver is a difference', () => {
    expect(compareResolv(file('nameserver 1.1.1.1\nnameserver 2.2.2.2\n'), file('nameserver 1.1.1.1\n')).state).toBe('active');
  });
  it('a cut file proves active when its first nameservers differ, never scaffolding', () => {
    expect(compareResolv(file(CHAOS, true), file(KUBELET)).state).toBe('active');
    const cut = compareResolv(file(KUBELET, true), file(KUBELET));
    expect(cut.state).toBe('unknown');
    expect(cut.error?.reason).toBe('truncated');
  });
  it('a backup without resolv.conf is unknown', () => {
    expect(compareResolv(null, file(KUBELET)).state).toBe('unknown');
  });
  it('parseNameservers is total', () => {
    fc.assert(fc.property(fc.string({ maxLength: 500 }), (s) => {
      for (const n of parseNameservers(s)) expect(n.length).toBeGreaterThan(0);
    }), { numRuns: 1000 });
  });
});
