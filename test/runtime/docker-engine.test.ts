/** docker-engine.ts's pure facts on literal listings: Docker container states -> CRI sandbox and container states. */
import { describe, expect, it } from 'vitest';
import { podsFromContainers, type ListedContainer, type Resolved } from '../../agent/runtime/docker-engine.js';

const URL = 'unix:///var/run/docker.sock';
const NETNS = { inode: 4026532177, path: '/proc/31856/ns/net' };

/** A kubelet/cri-dockerd pod: its pause container (ID 'a'.repeat(64)) in `state`, one app container in `appState`. */
function pod(state: string, appState = state): ListedContainer[] {
  const sandbox = 'a'.repeat(64);
  return [
    { id: sandbox, name: 'k8s_POD_web_shop_u-1_0', state, networkMode: 'default', labels: { 'io.kubernetes.docker.type': 'podsandbox', 'io.kubernetes.pod.name': 'web', 'io.kubernetes.pod.namespace': 'shop', 'io.kubernetes.pod.uid': 'u-1' } },
    { id: 'b'.repeat(64), name: 'k8s_app_web_shop_u-1_0', state: appState, networkMode: `container:${sandbox}`, labels: { 'io.kubernetes.docker.type': 'container', 'io.kubernetes.sandbox.id': sandbox, 'io.kubernetes.container.name': 'app' } },
  ];
}

/** What docker-client resolves: a PID and namespace for the containers with a process (running or paused). */
function resolved(withProcess: boolean): Map<string, Resolved> {
  const r: Resolved = withProcess ? { pid: 31856, netns: NETNS } : { pid: null, netns: null, reason: 'container is exited' };
  return new Map([['a'.repeat(64), r], ['b'.repeat(64), withProcess ? { pid: 31888, netns: NETNS } : r]]);
}

describe('podsFromContainers: states', () => {
  it('a paused pod (docker pause: frozen, its namespace lives on) is READY with RUNNING containers, as cri-dockerd lists it', () => {
    const [p] = podsFromContainers(pod('paused'), resolved(true), URL);
    expect(p).toMatchObject({ namespace: 'shop', name: 'web', uid: 'u-1', state: 'SANDBOX_READY', pid: 31856, netns: NETNS });
    expect(p!.containers).toEqual([{ id: 'b'.repeat(64), name: 'app', state: 'CONTAINER_RUNNING', pid: 31888 }]);
    expect(p!.stateUnknown).toBeUndefined();
    expect(podsFromContainers(pod('running', 'paused'), resolved(true), URL)[0]!.containers[0]!.state).toBe('CONTAINER_RUNNING');
  });

  it("Docker's other documented states are NOTREADY, known; a state Docker does not document is NOTREADY, marked unknown", () => {
    for (const state of ['created', 'restarting', 'removing', 'exited', 'dead']) {
      const [p] = podsFromContainers(pod(state), resolved(false), URL);
      expect([state, p!.state, p!.stateUnknown]).toEqual([state, 'SANDBOX_NOTREADY', undefined]);
    }
    expect(podsFromContainers(pod('running'), resolved(true), URL)[0]).toMatchObject({ state: 'SANDBOX_READY' });
    for (const state of ['hibernating', '']) {
      const [p] = podsFromContainers(pod(state), resolved(false), URL);
      expect([state, p!.state, p!.stateUnknown, p!.containers[0]!.state]).toEqual([state, 'SANDBOX_NOTREADY', true, 'CONTAINER_UNKNOWN']);
    }
    // A plain (non-Kubernetes) container is a pod of its own, mapped the same way.
    const plain: ListedContainer = { id: 'c'.repeat(64), name: 'plain', state: 'paused', networkMode: 'default', labels: {} };
    expect(podsFromContainers([plain], new Map([[plain.id, { pid: 7, netns: NETNS }]]), URL)[0]).toMatchObject({ name: 'plain', state: 'SANDBOX_READY' });
  });
});
