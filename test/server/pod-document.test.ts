/**
 * README's JSON section is the contract for the `inspect --json` / `/debug/pods` document: the fields each object of
 * it can carry (the models' every field, made required here so that a field added to a model fails to compile until
 * it is listed below) are the ones README names, no more, no less.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Ipset, IpsetMember, Link } from '../../agent/netns/state.js';
import { podsJson } from '../../agent/server/pod-document.js';
import type { StaleSandbox } from '../../agent/snapshot.js';
import { cleanPod, container, podInfo, report } from '../metrics/fixtures.js';

const README = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');

/** The field names of the object README writes right after `marker` (`{"a","b":[X],"c"?}`), sorted. */
function documentedFields(marker: string): string[] {
  const at = README.indexOf(marker);
  if (at < 0) throw new Error(`README.md does not contain ${marker}`);
  const from = at + marker.length - 1;
  const end = README.indexOf('}`', from);
  return [...README.slice(from, end).matchAll(/"([A-Za-z0-9]+)"/g)].map((m) => m[1]!).sort();
}

const fields = (o: object): string[] => Object.keys(o).sort();

const member: Required<IpsetMember> = {
  value: '10.0.0.1,tcp:80', options: 'timeout 30', ip: '10.0.0.1', cidr: null, proto: 'tcp', port: 80, ip2: null, cidr2: null,
  iface: null, physdev: false, name: null, timeout: 30, packets: null, bytes: null, comment: null, nomatch: false,
};
const set: Required<Ipset> = {
  name: 'web_2f9c1d3a4b5e6f_netport_tgt', type: 'hash:net,port', optionsText: 'family inet hashsize 1024 maxelem 65536 timeout 300',
  options: { family: 'inet', hashsize: '1024', maxelem: '65536', timeout: '300' }, members: [member], family: 'inet', hashsize: 1024,
  maxelem: 65536, timeout: 300, size: null, counters: false, comment: false, skbinfo: false, revision: 7, references: 1, opaque: 'unknown type',
};
const link: Required<Link> = {
  index: 2, name: 'eth0', kind: 'veth', slaveKind: 'bridge', master: 5, mtu: 1500, flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
  operState: 'UP', address: 'b6:92:53:4f:f0:08', link: 27598, linkNetnsId: 0,
};
const stale: Required<StaleSandbox> = {
  namespace: 'shop', name: 'web', uid: 'uid-web', runtime: 'containerd', sandboxId: 'sb-old', state: 'SANDBOX_NOTREADY', replacedBy: 'sb-web',
};

function document(): { pods: Record<string, unknown>[]; host: Record<string, unknown> | null; staleSandboxes: Record<string, unknown>[] } {
  const web = report(podInfo('shop', 'web', [container('app', 'c-web')]), { ipsets: { sets: [set], errors: [] }, links: [link], addresses: [], routes: [] });
  const host = { ...report(podInfo('', '', [], { hostNetwork: true })), pod: null, hostNetwork: true };
  return JSON.parse(podsJson([web, cleanPod()], { host, stale: [stale] })) as ReturnType<typeof document>;
}

describe('the inspect --json / /debug/pods document, as README documents it', () => {
  it('has the top-level fields README names for inspect --all and /debug/pods, and a STALE entry\'s', () => {
    const doc = document();
    expect(Object.keys(doc)).toEqual(['pods', 'host', 'staleSandboxes']);
    expect(README).toContain('`{"pods":[ENTRY...],"host":ENTRY|null,"staleSandboxes":[STALE...]}`');
    expect(doc.host?.hostNetwork).toBe(true);
    expect(fields(doc.staleSandboxes[0]!)).toEqual(documentedFields('STALE is `{'));
    // Without the node's entry and the stale sandboxes (inspect NS/POD, /debug/pods/{ns}/{pod}): the pods alone.
    expect(Object.keys(JSON.parse(podsJson([cleanPod()])) as object)).toEqual(['pods']);
  });

  it('has in every ipset, ipset member and link exactly the fields README names', () => {
    const web = document().pods[0]!;
    const sets = (web.ipsets as { sets: Record<string, unknown>[] }).sets;
    expect(fields(sets[0]!)).toEqual(documentedFields('SET: `{'));
    expect(fields((sets[0]!.members as Record<string, unknown>[])[0]!)).toEqual(documentedFields('MEMBER: `{'));
    expect(fields((web.links as Record<string, unknown>[])[0]!)).toEqual(documentedFields('links `{'));
  });
});
