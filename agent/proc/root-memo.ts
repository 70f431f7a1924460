/**
 * "Same as last time" between the root reader's thread (root-serve.ts) and the main thread (root-reader.ts): a
 * container's RootFacts is posted whole only when it differs from the one the main thread already holds for it;
 * otherwise the thread answers `null` and the main thread reuses its previous object. At 110 pods (~200 containers)
 * nearly every container's facts are unchanged from one collection to the next, and posting them cost both threads
 * a structured clone and the main isolate ~200 object trees per collection.
 *
 * The reads themselves still run every collection (resolv.conf is rewritten by DNSChaos, jars appear, mounts
 * move): only the answer is elided, and only after an EXACT comparison (samePlainData: same keys in the same order,
 * same primitives) of the fresh facts with the ones last posted.
 *
 * Why the main thread can never get a stale or wrong object: each facts posted whole gets a generation number
 * (per thread); the main thread tells the thread, per container, the generation it holds for it on THAT thread
 * (`known`, 0 for none), and the thread answers `null` only when its own entry for the container has that very
 * generation and equals the fresh facts. So a thread that does not know what the main thread holds (a fresh thread
 * after one was abandoned, a lent pool thread other than last time, an answer the main thread dropped) answers
 * whole. The main thread keeps its entries per thread (a WeakMap on the Worker: a thread replaced takes its entries
 * with it) and replaces them only from an answer it accepted; the thread replaces its own only once its answer is
 * posted.
 */
import { AgentError } from '../errors.js';
import { deepFreeze } from '../deep-freeze.js';
import type { RootFacts, RootJob } from './root-facts.js';

/** What a job reads, besides its container ID (the key): its facts depend on nothing else that changes between collections. */
function sameTarget(held: Held, job: RootJob): boolean {
  return held.pid === job.pid && held.procRoot === job.procRoot && held.name === job.container.name;
}

/**
 * Deep equality of structured-clone plain data (objects, arrays, strings, numbers, booleans, null, undefined):
 * same own keys in the same order (JSON output follows key order), primitives by Object.is. Anything else (a Map, a
 * Buffer, a class instance) is never equal: the caller then posts the value whole.
 */
export function samePlainData(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const arr = Array.isArray(a);
  if (arr !== Array.isArray(b)) return false;
  if (arr) {
    const x = a as unknown[];
    const y = b as unknown[];
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!samePlainData(x[i], y[i])) return false;
    return true;
  }
  if (Object.getPrototypeOf(a) !== Object.prototype || Object.getPrototypeOf(b) !== Object.prototype) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    const k = ka[i]!;
    if (k !== kb[i] || !samePlainData((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

/** A container's facts as posted with generation `gen`, for the job that read them (pid, proc root, name). */
interface Held {
  gen: number;
  facts: RootFacts;
  pid: number;
  procRoot: string;
  name: string;
  /** The last request that named it (entries not named by the latest one are dropped). */
  stamp: number;
}

function heldOf(gen: number, facts: RootFacts, job: RootJob, stamp: number): Held {
  // Handed out again while the thread answers "unchanged": frozen, so a consumer writing into it fails instead of
  // changing what the next collections are served (the thread compares against its own copy, not this one).
  return { gen, facts: deepFreeze(facts), pid: job.pid, procRoot: job.procRoot, name: job.container.name, stamp };
}

/** The entries of `map` not named by request `stamp` dropped (a container gone is forgotten). */
function prune(map: Map<string, Held>, stamp: number): void {
  for (const [k, h] of map) if (h.stamp !== stamp) map.delete(k);
}

/** The thread's side: what it last posted per container (by container ID), and the answers of one request. */
export class ThreadRootMemo {
  private readonly last = new Map<string, Held>();
  private gen = 0;
  private stamp = 0;

  /**
   * The answers for `facts` (fresh, in the jobs' order): `null` where the main thread holds (`known`) exactly the
   * generation this thread last posted for the container and the fresh facts equal it, else the facts with a new
   * generation. `commit` makes them this thread's entries: call it once the answer is posted.
   */
  answer(jobs: readonly RootJob[], known: readonly number[] | undefined, facts: readonly RootFacts[]): RootAnswer {
    const results: (RootFacts | null)[] = [];
    const gens: number[] = [];
    const fresh: Held[] = [];
    const stamp = ++this.stamp;
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i]!;
      const held = this.last.get(job.container.id);
      const f = facts[i]!;
      if (held !== undefined && sameTarget(held, job) && known?.[i] === held.gen && samePlainData(f, held.facts)) {
        results.push(null);
        gens.push(held.gen);
        fresh.push(held);
      } else {
        const entry = heldOf(++this.gen, f, job, stamp);
        results.push(f);
        gens.push(entry.gen);
        fresh.push(entry);
      }
    }
    return new RootAnswer(results, gens, this.last, jobs, fresh, stamp);
  }
}

/**
 * One request's answers, and how they become the thread's entries. A class, not an object with a closure per request:
 * V8 would compile that closure again after every full GC (collect/netns.ts readGroup says why).
 */
export class RootAnswer {
  constructor(
    readonly results: (RootFacts | null)[],
    readonly gens: number[],
    private readonly last: Map<string, Held>,
    private readonly jobs: readonly RootJob[],
    private readonly fresh: Held[],
    private readonly stamp: number,
  ) {}

  /** Make the answers the thread's entries (once posted); entries not named by this request are dropped. */
  commit(): void {
    for (let i = 0; i < this.jobs.length; i++) {
      this.fresh[i]!.stamp = this.stamp;
      this.last.set(this.jobs[i]!.container.id, this.fresh[i]!);
    }
    prune(this.last, this.stamp);
  }
}

/** The main thread's side: per thread, the facts it last accepted from it per container. */
export class MainRootMemo {
  private readonly byThread = new WeakMap<object, Map<string, Held>>();
  private stamp = 0;
  /** Containers answered `null` (reused) and whole, since this memo was made (tests, bench). */
  reused = 0;
  posted = 0;

  /** The generation held for each job on `thread` (0: none). */
  known(thread: object, jobs: readonly RootJob[]): number[] {
    const held = this.byThread.get(thread);
    const out: number[] = [];
    for (const j of jobs) {
      const h = held?.get(j.container.id);
      out.push(h !== undefined && sameTarget(h, j) ? h.gen : 0);
    }
    return out;
  }

  /**
   * The facts of an answer from `thread` (nulls replaced by the held objects) and, from now on, the entries held for
   * it. Throws when a `null` names a generation not held (a protocol bug: never served a wrong object).
   */
  accept(thread: object, jobs: readonly RootJob[], known: readonly number[], results: readonly (RootFacts | null)[], gens: readonly number[]): RootFacts[] {
    let held = this.byThread.get(thread);
    if (held === undefined) this.byThread.set(thread, (held = new Map()));
    const stamp = ++this.stamp;
    const out: RootFacts[] = [];
    const entries: Held[] = [];
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i]!;
      const r = results[i];
      let entry: Held;
      if (r === null || r === undefined) {
        const h = held.get(job.container.id);
        if (h === undefined || !sameTarget(h, job) || h.gen !== known[i] || gens[i] !== h.gen) {
          throw new AgentError('ROOT_READER', `root reader: "unchanged" for ${job.container.name} without its facts held (generation ${gens[i]})`);
        }
        entry = h;
        this.reused++;
      } else {
        entry = heldOf(gens[i]!, r, job, stamp);
        this.posted++;
      }
      entries.push(entry);
      out.push(entry.facts);
    }
    // Only once the whole answer is checked: a refused one leaves the entries as they were.
    for (let i = 0; i < jobs.length; i++) {
      entries[i]!.stamp = stamp;
      held.set(jobs[i]!.container.id, entries[i]!);
    }
    prune(held, stamp);
    return out;
  }
}
