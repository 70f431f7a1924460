import { describe, expect, it } from 'vitest';
import type { ChaosKind } from '../../agent/chaos/types.js';
import { InjectionTracker, type InjectionEvent } from '../../agent/metrics/injection-tracker.js';
import { podsFromContainers, type ListedContainer } from '../../agent/runtime/docker-engine.js';
import type { PodInfo } from '../../agent/runtime/types.js';
import { chaos, chaosPod, cleanPod, sandboxStopped, snapshot } from './fixtures.js';

describe('InjectionTracker', () => {
  it('keeps first_seen while an injection stays, forgets it when it disappears, and reports each change once', () => {
    const t = new InjectionTracker();
    const withChaos = chaosPod();
    const ev1 = t.observe(snapshot([withChaos, cleanPod()]), 100);
    expect(ev1.map((e) => [e.event, e.namespace, e.pod, e.kind])).toEqual([
      ['injection_started', 'default', 'web-1', 'bandwidth'], ['injection_started', 'default', 'web-1', 'delay'],
      ['injection_started', 'default', 'web-1', 'loss'], ['injection_started', 'default', 'web-1', 'partition'],
    ]);
    expect(ev1[1]!.evidence).toEqual(['delay evidence']);
    expect(t.firstSeen('default', 'web-1', 'delay')).toBe(100);

    expect(t.observe(snapshot([withChaos, cleanPod()]), 200)).toEqual([]);
    expect(t.firstSeen('default', 'web-1', 'delay')).toBe(100);

    // delay and bandwidth end, loss and partition stay.
    const partial = { ...withChaos, chaos: chaos('active', ['loss', 'partition']) };
    const ev3 = t.observe(snapshot([partial]), 300);
    expect(ev3.map((e) => [e.event, e.kind, e.evidence])).toEqual([
      ['injection_ended', 'bandwidth', ['bandwidth evidence']], ['injection_ended', 'delay', ['delay evidence']],
    ]);
    expect(t.firstSeen('default', 'web-1', 'delay')).toBeUndefined();
    expect(t.firstSeen('default', 'web-1', 'loss')).toBe(100);
    expect(t.size).toBe(2);

    // delay comes back: a new first-seen time.
    const ev4 = t.observe(snapshot([{ ...withChaos, chaos: chaos('active', ['delay', 'loss', 'partition']) }]), 400);
    expect(ev4.map((e) => [e.event, e.kind])).toEqual([['injection_started', 'delay']]);
    expect(t.firstSeen('default', 'web-1', 'delay')).toBe(400);

    // The pod leaves: everything ends.
    expect(t.observe(snapshot([]), 500).map((e) => [e.event, e.kind])).toEqual([
      ['injection_ended', 'delay'], ['injection_ended', 'loss'], ['injection_ended', 'partition'],
    ]);
    expect(t.size).toBe(0);
  });

  it('keeps the evidence of the last collection that saw an injection, also when its entry was kept as it was', () => {
    const t = new InjectionTracker();
    const withEvidence = (message: string) => {
      const c = chaos('active', ['delay']);
      return { ...chaosPod(), chaos: { ...c, findings: [message], details: [{ ...c.details[0]!, message }] } };
    };
    t.observe(snapshot([withEvidence('a')]), 100);
    expect(t.observe(snapshot([withEvidence('a')]), 200)).toEqual([]);
    expect(t.observe(snapshot([withEvidence('b')]), 300)).toEqual([]);
    expect(t.firstSeen('default', 'web-1', 'delay')).toBe(100);
    // No structured detail: the findings are the evidence.
    expect(t.observe(snapshot([{ ...chaosPod(), chaos: { ...chaos('active', ['delay']), details: [], findings: ['c', 'd'] } }]), 400)).toEqual([]);
    expect(t.observe(snapshot([]), 500).map((e) => [e.event, e.evidence])).toEqual([['injection_ended', ['c', 'd']]]);

    t.observe(snapshot([withEvidence('a')]), 600);
    t.observe(snapshot([withEvidence('b')]), 700);
    expect(t.observe(snapshot([]), 800).map((e) => [e.event, e.evidence])).toEqual([['injection_ended', ['b']]]);
  });

  it('uses the snapshot start time by default', () => {
    const t = new InjectionTracker();
    t.observe(snapshot([chaosPod()], { startedAt: 1234.5 }));
    expect(t.firstSeen('default', 'web-1', 'loss')).toBe(1234.5);
  });
  it('keeps the injections of a pod whose namespace could not be read this time (verdict unknown), without events', () => {
    const t = new InjectionTracker();
    const withChaos = { ...chaosPod(), chaos: chaos('active', ['delay']) };
    expect(t.observe(snapshot([withChaos]), 100).map((e) => [e.event, e.kind])).toEqual([['injection_started', 'delay']]);
    // One collection where a tool timed out: the pod is there, nothing could be read.
    const unread = { ...withChaos, chaos: chaos('unknown'), errors: ['tc: killed after 5000 ms (timeout)'] };
    expect(t.observe(snapshot([unread]), 200)).toEqual([]);
    expect(t.firstSeen('default', 'web-1', 'delay')).toBe(100);
    // Read again: still the same injection, first seen at 100.
    expect(t.observe(snapshot([withChaos]), 300)).toEqual([]);
    expect(t.firstSeen('default', 'web-1', 'delay')).toBe(100);
    // Unread, then gone from the node: it ends then.
    t.observe(snapshot([unread]), 400);
    expect(t.observe(snapshot([]), 500).map((e) => [e.event, e.kind])).toEqual([['injection_ended', 'delay']]);
    expect(t.size).toBe(0);
  });

  it('keeps the injections of pods missing from a collection whose runtime listing failed (a runtime restarting)', () => {
    const t = new InjectionTracker();
    const withChaos = { ...chaosPod(), chaos: chaos('active', ['partition']) };
    t.observe(snapshot([withChaos]), 100);
    const failedListing = { ...snapshot([]), collectors: [{ collector: 'runtime', success: false, seconds: 0.1, error: 'connection refused' }] };
    expect(t.observe(failedListing, 200)).toEqual([]);
    expect(t.firstSeen('default', 'web-1', 'partition')).toBe(100);
    // Listed again: same injection, same first-seen; listed fine and absent: it ends.
    expect(t.observe(snapshot([withChaos]), 300)).toEqual([]);
    expect(t.firstSeen('default', 'web-1', 'partition')).toBe(100);
    expect(t.observe(snapshot([]), 400).map((e) => e.event)).toEqual(['injection_ended']);
  });

  it('ends the injections of a pod whose sandbox is no longer ready (its namespace is gone), with the reason', () => {
    const t = new InjectionTracker();
    const withChaos = { ...chaosPod(), chaos: chaos('active', ['delay', 'partition']) };
    t.observe(snapshot([withChaos]), 100);
    // The sandbox died: listed NOTREADY, nothing read (verdict unknown) and nothing left to read.
    const dead = sandboxStopped(withChaos);
    expect(t.observe(snapshot([dead]), 200).map((e) => [e.event, e.kind, e.reason])).toEqual([
      ['injection_ended', 'delay', 'sandbox_not_ready'], ['injection_ended', 'partition', 'sandbox_not_ready'],
    ]);
    expect(t.size).toBe(0);
    expect(t.observe(snapshot([dead]), 300)).toEqual([]);
    // A new sandbox of the same pod with the same fault: a new start, a new first-seen time.
    expect(t.observe(snapshot([withChaos]), 400).map((e) => [e.event, e.kind, e.reason])).toEqual([
      ['injection_started', 'delay', undefined], ['injection_started', 'partition', undefined],
    ]);
    expect(t.firstSeen('default', 'web-1', 'delay')).toBe(400);
    // Gone from a complete listing: pod_gone. A plain end (the pod read, the fault not there) carries no reason.
    const recovered = { ...withChaos, chaos: chaos('active', ['partition']) };
    expect(t.observe(snapshot([recovered]), 500).map((e) => [e.event, e.kind, e.reason])).toEqual([['injection_ended', 'delay', undefined]]);
    expect(t.observe(snapshot([]), 600).map((e) => [e.event, e.kind, e.reason])).toEqual([['injection_ended', 'partition', 'pod_gone']]);
    // A host-network pod's namespace is the node's: its sandbox stopping ends nothing (unread, kept as it was).
    const host = { ...withChaos, pod: { ...withChaos.pod!, hostNetwork: true } };
    t.observe(snapshot([host]), 700);
    expect(t.observe(snapshot([{ ...host, pod: { ...host.pod, state: 'SANDBOX_NOTREADY' as const }, chaos: chaos('unknown') }]), 800)).toEqual([]);
    expect(t.firstSeen('default', 'web-1', 'delay')).toBe(700);
  });
});

describe('InjectionTracker: sandboxes whose namespace is not known to be gone', () => {
  const withChaos = { ...chaosPod(), chaos: chaos('active', ['delay']) };
  const unreadAs = (pod: Partial<PodInfo>) => ({ ...withChaos, pod: { ...withChaos.pod!, ...pod }, chaos: chaos('unknown') });

  it('keeps, without events, the injections of a Docker pod paused (docker pause) whose read failed once', () => {
    const t = new InjectionTracker();
    t.observe(snapshot([withChaos]), 100);
    // The pause container frozen: Docker says 'paused', its process and network namespace live on.
    const listed: ListedContainer = { id: 'a'.repeat(64), name: 'k8s_POD_web-1_default_uid-web-1_0', state: 'paused', networkMode: 'default', labels: { 'io.kubernetes.docker.type': 'podsandbox', 'io.kubernetes.pod.name': 'web-1', 'io.kubernetes.pod.namespace': 'default', 'io.kubernetes.pod.uid': 'uid-web-1' } };
    const [paused] = podsFromContainers([listed], new Map([[listed.id, { pid: 4241, netns: { inode: 4026532000, path: '/proc/4241/ns/net' } }]]), 'unix:///var/run/docker.sock');
    expect(t.observe(snapshot([{ ...withChaos, pod: { ...paused!, sandboxId: withChaos.pod!.sandboxId }, chaos: chaos('unknown') }]), 200)).toEqual([]);
    expect(t.firstSeen('default', 'web-1', 'delay')).toBe(100);
  });

  it('keeps them for a NOTREADY sandbox whose namespace was still resolved, and for a state the runtime layer does not know', () => {
    const t = new InjectionTracker();
    t.observe(snapshot([withChaos]), 100);
    expect(t.observe(snapshot([unreadAs({ state: 'SANDBOX_NOTREADY' })]), 200)).toEqual([]);
    expect(t.observe(snapshot([unreadAs({ state: 'SANDBOX_NOTREADY', pid: null, netns: null, stateUnknown: true })]), 300)).toEqual([]);
    expect(t.firstSeen('default', 'web-1', 'delay')).toBe(100);
    // Known NOTREADY, nothing resolved, no container running: the namespace went with the sandbox.
    expect(t.observe(snapshot([sandboxStopped(withChaos)]), 400).map((e) => e.reason)).toEqual(['sandbox_not_ready']);
  });

  it('keeps them while a container outlived its stopped sandbox (it still holds the namespace it joined), running with a PID or not', () => {
    const t = new InjectionTracker();
    t.observe(snapshot([withChaos]), 100);
    // Docker: the pause container killed, the app container (--network container:<sandbox>) runs on in its namespace.
    expect(t.observe(snapshot([sandboxStopped(withChaos, ['app'])]), 200)).toEqual([]);
    const noPid = sandboxStopped(withChaos, ['sidecar']);
    noPid.pod!.containers = noPid.pod!.containers.map((c) => (c.name === 'sidecar' ? { ...c, pid: null } : c));
    expect(noPid.pod!.containers.filter((c) => c.state === 'CONTAINER_RUNNING').map((c) => [c.name, c.pid])).toEqual([['sidecar', null]]);
    expect(t.observe(snapshot([noPid]), 300)).toEqual([]);
    expect(t.firstSeen('default', 'web-1', 'delay')).toBe(100);
    // The app read again (the namespace held by it): the fault is still there, nothing started anew.
    expect(t.observe(snapshot([{ ...withChaos, pod: { ...withChaos.pod!, state: 'SANDBOX_NOTREADY' } }]), 400)).toEqual([]);
    expect(t.firstSeen('default', 'web-1', 'delay')).toBe(100);
    // The last container stopped too: now the namespace is gone.
    expect(t.observe(snapshot([sandboxStopped(withChaos)]), 500).map((e) => [e.event, e.kind, e.reason])).toEqual([['injection_ended', 'delay', 'sandbox_not_ready']]);
  });
});

describe('InjectionTracker: a pod or sandbox replaced under the same namespace/name', () => {
  const withChaos = { ...chaosPod(), chaos: chaos('active', ['delay', 'partition']) };
  const as = (pod: Partial<PodInfo>, kinds: ChaosKind[] | null = ['delay', 'partition']) => ({
    ...withChaos, pod: { ...withChaos.pod!, ...pod }, chaos: kinds === null ? chaos('unknown') : chaos('active', kinds),
  });
  const shape = (events: InjectionEvent[]) => events.map((e) => [e.event, e.kind, e.reason]);

  it('ends the old pod\'s injections (pod_replaced) and starts the new pod\'s afresh, read or not', () => {
    const t = new InjectionTracker();
    t.observe(snapshot([withChaos]), 100);
    // Deleted and created again (a StatefulSet pod): a new uid, a new sandbox, the same fault applied to it.
    const second = as({ uid: 'uid-2', sandboxId: 'sb-2' }, ['delay']);
    expect(shape(t.observe(snapshot([second]), 200))).toEqual([
      ['injection_ended', 'delay', 'pod_replaced'], ['injection_started', 'delay', undefined], ['injection_ended', 'partition', 'pod_replaced'],
    ]);
    expect(t.firstSeen('default', 'web-1', 'delay')).toBe(200);
    expect(t.firstSeen('default', 'web-1', 'partition')).toBeUndefined();
    expect(t.observe(snapshot([second]), 300)).toEqual([]);
    expect(t.firstSeen('default', 'web-1', 'delay')).toBe(200);
    // Replaced again, the new one not read this time: the old one's injections end all the same.
    expect(shape(t.observe(snapshot([as({ uid: 'uid-3', sandboxId: 'sb-3' }, null)]), 400))).toEqual([['injection_ended', 'delay', 'pod_replaced']]);
    expect(t.size).toBe(0);
    // Without uids (a plain Docker container recreated under its name), a new sandbox is a new pod.
    t.observe(snapshot([as({ uid: '', sandboxId: 'c-1' }, ['delay'])]), 500);
    expect(shape(t.observe(snapshot([as({ uid: '', sandboxId: 'c-2' }, ['delay'])]), 600))).toEqual([
      ['injection_ended', 'delay', 'pod_replaced'], ['injection_started', 'delay', undefined],
    ]);
  });

  it('ends the injections of a sandbox kubelet replaced (same uid, a new namespace) as sandbox_not_ready; not for host network', () => {
    const t = new InjectionTracker();
    t.observe(snapshot([withChaos]), 100);
    expect(shape(t.observe(snapshot([as({ sandboxId: 'sb-new' })]), 200))).toEqual([
      ['injection_ended', 'delay', 'sandbox_not_ready'], ['injection_started', 'delay', undefined],
      ['injection_ended', 'partition', 'sandbox_not_ready'], ['injection_started', 'partition', undefined],
    ]);
    expect(t.firstSeen('default', 'web-1', 'partition')).toBe(200);
    // A host-network pod's namespace is the node's: a new sandbox changes nothing.
    const host = new InjectionTracker();
    host.observe(snapshot([as({ sandboxId: 'sb-h1', hostNetwork: true })]), 300);
    expect(host.observe(snapshot([as({ sandboxId: 'sb-h2', hostNetwork: true })]), 400)).toEqual([]);
    expect(host.firstSeen('default', 'web-1', 'delay')).toBe(300);
  });
});
