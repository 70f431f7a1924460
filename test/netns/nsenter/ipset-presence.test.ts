import { describe, expect, it } from 'vitest';
import { ipsetPresence } from '../../../agent/netns/nsenter/ipset-presence.js';

// /proc/modules lines: name size refcount deps state address (kernel/module/procfs.c m_show).
const MODULES = (hashNet: number, list: number): string => [
  `ip_set_hash_net 49152 ${hashNet} - Live 0x0000000000000000`,
  `ip_set_hash_netport 45056 0 - Live 0x0000000000000000`,
  `ip_set_list_set 16384 ${list} - Live 0x0000000000000000`,
  'ip_set 61440 3 xt_set,ip_set_hash_net,ip_set_hash_netport,ip_set_list_set, Live 0x0000000000000000',
  'nf_tables 339968 0 - Live 0x0000000000000000',
].join('\n');

describe('ipsetPresence', () => {
  it('counts the sets of every namespace from the set type modules\' refcounts', () => {
    expect(ipsetPresence(MODULES(2, 1), true)).toBe('some');
    expect(ipsetPresence(MODULES(0, 0), true)).toBe('none');
  });

  it('ip_set not loaded: none; built in (no module line) or no /proc/modules: unknown when /sys/module/ip_set exists', () => {
    expect(ipsetPresence('nf_tables 339968 0 - Live 0x0', false)).toBe('none');
    expect(ipsetPresence('nf_tables 339968 0 - Live 0x0', true)).toBe('unknown');
    expect(ipsetPresence(null, true)).toBe('unknown');
    expect(ipsetPresence(null, false)).toBe('none');
    expect(ipsetPresence('ip_set_hash_net 1 x - Live\nip_set 1 1 - Live', true)).toBe('unknown');
  });
});
