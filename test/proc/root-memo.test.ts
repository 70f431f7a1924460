/**
 * The root reader's "same as last" protocol (root-memo.ts) between a thread's memo and the main thread's: an answer is
 * elided only for facts exactly equal to the ones the main thread holds from that thread, with that generation.
 */
import { describe, expect, it } from 'vitest';
import type { RootFacts, RootJob } from '../../agent/proc/root-facts.js';
import { MainRootMemo, samePlainData, ThreadRootMemo } from '../../agent/proc/root-memo.js';

const job = (name: string, pid = 100): RootJob => ({
  procRoot: '/proc', pid, container: { name, id: `id-${name}` }, timeoutMs: 1000, maxFileBytes: 65536, maxMountinfoBytes: 1 << 20, jvmPorts: [9277],
});

function facts(nameserver: string): RootFacts {
  return {
    mounts: [],
    incomplete: [],
    dns: { container: 'a', containerId: 'id-a', pid: 100, state: 'active', nameservers: [nameserver], backupNameservers: ['10.96.0.10'] },
    jvm: { container: 'a', containerId: 'id-a', pid: 100, state: 'none', jars: [], listeners: [] },
  };
}

/** One request through both memos, the answer structured-cloned as postMessage does. */
function roundTrip(main: MainRootMemo, thread: ThreadRootMemo, threadId: object, jobs: RootJob[], fresh: RootFacts[]): { out: RootFacts[]; elided: number } {
  const known = main.known(threadId, jobs);
  const a = thread.answer(jobs, known, fresh);
  const reply = structuredClone({ results: a.results, gens: a.gens });
  a.commit();
  return { out: main.accept(threadId, jobs, known, reply.results, reply.gens), elided: reply.results.filter((r) => r === null).length };
}

describe('samePlainData', () => {
  it('is exact: values, array lengths, key sets and key order', () => {
    expect(samePlainData(facts('10.0.0.1'), facts('10.0.0.1'))).toBe(true);
    expect(samePlainData(facts('10.0.0.1'), facts('10.0.0.2'))).toBe(false);
    expect(samePlainData({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(false);
    expect(samePlainData({ a: 1 }, { a: 1, b: undefined })).toBe(false);
    expect(samePlainData([1, 2], [1, 2, 3])).toBe(false);
    expect(samePlainData([1], { 0: 1 })).toBe(false);
    expect(samePlainData(null, {})).toBe(false);
    expect(samePlainData(NaN, NaN)).toBe(true);
    expect(samePlainData(0, -0)).toBe(false);
    expect(samePlainData(new Map(), new Map())).toBe(false);
  });
});

describe('the root reader memo', () => {
  it('elides only unchanged facts, and the main thread then hands out the very object it holds', () => {
    const main = new MainRootMemo();
    const thread = new ThreadRootMemo();
    const T = {};
    const jobs = [job('a'), job('b')];
    const first = roundTrip(main, thread, T, jobs, [facts('10.0.0.1'), facts('10.0.0.2')]);
    expect(first.elided).toBe(0);
    const second = roundTrip(main, thread, T, jobs, [facts('10.0.0.1'), facts('10.0.0.2')]);
    expect(second.elided).toBe(2);
    expect(second.out[0]).toBe(first.out[0]);
    expect(second.out[1]).toBe(first.out[1]);
    // One byte of one container changes: its facts come whole, the other's are still the held object.
    const third = roundTrip(main, thread, T, jobs, [facts('10.0.0.9'), facts('10.0.0.2')]);
    expect(third.elided).toBe(1);
    expect(third.out[0]!.dns!.nameservers).toEqual(['10.0.0.9']);
    expect(third.out[1]).toBe(first.out[1]);
    // The same container ID read through another PID (a restarted container) is not the same target.
    const moved = roundTrip(main, thread, T, [job('a', 101), job('b')], [facts('10.0.0.9'), facts('10.0.0.2')]);
    expect(moved.elided).toBe(1);
    expect(moved.out[0]).not.toBe(third.out[0]);
  });

  it('a thread that does not hold what the main thread holds (replaced, or an answer dropped) answers whole', () => {
    const main = new MainRootMemo();
    const T = {};
    const jobs = [job('a')];
    roundTrip(main, new ThreadRootMemo(), T, jobs, [facts('10.0.0.1')]);
    // A fresh thread under the same identity (the worst case: the main thread cannot tell) holds nothing.
    expect(roundTrip(main, new ThreadRootMemo(), T, jobs, [facts('10.0.0.1')]).elided).toBe(0);
    // An answer the main thread never accepted: the thread moved to a newer generation, the main thread did not.
    const thread = new ThreadRootMemo();
    roundTrip(main, thread, T, jobs, [facts('10.0.0.1')]);
    const lost = thread.answer(jobs, main.known(T, jobs), [facts('10.0.0.2')]);
    lost.commit();
    const after = roundTrip(main, thread, T, jobs, [facts('10.0.0.2')]);
    expect(after.elided).toBe(0);
    expect(after.out[0]!.dns!.nameservers).toEqual(['10.0.0.2']);
    // Another main memo (another reader) on the same thread holds nothing either.
    expect(roundTrip(new MainRootMemo(), thread, T, jobs, [facts('10.0.0.2')]).elided).toBe(0);
  });

  it('refuses an "unchanged" answer for facts it does not hold', () => {
    const main = new MainRootMemo();
    expect(() => main.accept({}, [job('a')], [0], [null], [1])).toThrow(/without its facts held/);
  });
  it('hands out frozen facts: a consumer writing into one throws instead of changing what the next collections get', () => {
    const main = new MainRootMemo();
    const thread = new ThreadRootMemo();
    const t = {};
    const first = roundTrip(main, thread, t, [job('a')], [facts('10.0.0.1')]).out[0]!;
    expect(Object.isFrozen(first) && Object.isFrozen(first.dns) && Object.isFrozen(first.dns!.nameservers)).toBe(true);
    expect(() => first.mounts.push({} as never)).toThrow(TypeError);
    const again = roundTrip(main, thread, t, [job('a')], [facts('10.0.0.1')]);
    expect(again.elided).toBe(1);
    expect(again.out[0]).toBe(first);
    expect(again.out[0]!.dns!.nameservers).toEqual(['10.0.0.1']);
  });
});
