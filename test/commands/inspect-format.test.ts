/**
 * inspect's human listing of a namespace's ipsets (formatIpsets): name, type, member count in words (1 member, 2
 * members), the first five members and how many more.
 */
import { describe, expect, it } from 'vitest';
import { formatIpsets } from '../../agent/commands/inspect.js';
import type { Ipset } from '../../agent/netns/model/ipset.js';

const set = (name: string, type: string, values: string[]): Ipset => ({ name, type, optionsText: '', options: {}, members: values.map((value) => ({ value, options: '' })) });

describe('formatIpsets', () => {
  it('counts members in words and lists the first five', () => {
    expect(formatIpsets({
      sets: [
        set('one', 'hash:net,port', ['10.97.0.0/16,tcp:5432']),
        set('none', 'hash:net', []),
        set('many', 'hash:ip', ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6', '10.0.0.7']),
      ],
      errors: [],
    })).toEqual([
      '  ipsets:',
      '    one hash:net,port, 1 member: 10.97.0.0/16,tcp:5432',
      '    none hash:net, 0 members',
      '    many hash:ip, 7 members: 10.0.0.1, 10.0.0.2, 10.0.0.3, 10.0.0.4, 10.0.0.5, ... (2 more)',
    ]);
    expect(formatIpsets({ sets: [], errors: [] })).toEqual(['  ipsets: none']);
  });
});
