import { describe, expect, it } from 'vitest';
import { chaosChainRole, foreignOwner, isChaosIpsetName, tproxyName } from '../../agent/chaos/chaos-mesh-names.js';
import { compressName, ipsetName } from '../helpers/chaos-mesh.js';
import { SET, TGT } from './samples.js';

describe("Chaos Mesh's names", () => {
  it('recognises Chaos Mesh ipset names in both name layouts and the old ones', () => {
    for (const n of [TGT, `net_${SET}_nesrc`, `netport_${SET}_batgt`, `${TGT}old`, 'web-p_1a2b3c4d5e6f7_set_tgt', 'web_net_src', 'web-p_1a2b3c4d5e6f7a8_tgt', ipsetName('web-partition', 'netport_tgt')]) {
      expect(isChaosIpsetName(n), n).toBe(true);
    }
    for (const n of ['KUBE-LOOP-BACK', 'cali40all-ipam-pools', 'set_web', 'net_x_other', 'my_set_tgtx']) {
      expect(isChaosIpsetName(n), n).toBe(false);
    }
  });

  it('gives chains their role, and other tools their owner', () => {
    expect(chaosChainRole('filter', 'CHAOS-OUTPUT')).toBe('base');
    expect(chaosChainRole('filter', `OUTPUT/${compressName('web-partition', 20, '')}`)).toBe('experiment');
    expect(chaosChainRole('filter', 'TC-TABLES-12')).toBe('tc');
    expect(chaosChainRole('mangle', 'DIVERT')).toBe('http');
    expect(chaosChainRole('filter', 'DIVERT')).toBeNull();
    expect(foreignOwner('KUBE-SERVICES')?.owner).toBe('Kubernetes');
    expect(foreignOwner('MYAPP')).toBeNull();
  });

  it("recognises chaos-tproxy's names: 13 characters of a UUID, then b1 / v1 / v4 / ns", () => {
    const prefix = '67e55044-10b1-426f-9247-bb680e5fe0c8'.slice(0, 13);
    expect(tproxyName(`${prefix}b1`)).toEqual({ prefix, role: 'b1' });
    expect(tproxyName(`${prefix}v4`)).toEqual({ prefix, role: 'v4' });
    expect(tproxyName(`${prefix}ns`)).toEqual({ prefix, role: 'ns' });
    for (const n of [`${prefix}b2`, 'veth0', 'eth0', `${prefix.toUpperCase()}b1`, `x${prefix}b1`, '67e55044-10b1v']) expect(tproxyName(n), n).toBeNull();
  });
});
