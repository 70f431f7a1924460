/**
 * The verdicts of the last collection, per network namespace, so that a namespace whose judge inputs are the very
 * same objects as last time is not fingerprinted again.
 *
 * The key, and why it is sufficient: judge() (report.ts: fingerprint + completeness) is a pure function of the
 * NetnsState, of the node's named-namespace list (FingerprintContext.namedNetns) and of whether the namespace is the
 * node's own (FingerprintContext.nodeNamespace; `extra` is not used by the netns collector). An entry is reused only
 * when the reader handed back the SAME NetnsState object (===) for the same namespace (inode and path), the
 * named-namespace list is element-wise equal and the namespace is the node's as it was. NetnsStates are immutable once a
 * read returned them (NetnsReader's contract), so the same object is the same input: counters, ipset members, a
 * rule added and removed between two collections, a recreated namespace (a new read, a new object) all give a new
 * object and a fresh judgement. Content is never compared here: deciding that a namespace is unchanged is the
 * reader's job (it may return its previous state object when the kernel's state is unchanged); with a reader that
 * always returns new objects, every read is judged, as before.
 *
 * Only the namespaces of the latest collection are kept (one swap per collection): a namespace gone is forgotten.
 */
import type { ChaosReport } from '../chaos/types.js';
import type { NetnsState } from '../netns/state.js';
import { sameItems } from '../same-items.js';

interface Entry {
  state: NetnsState;
  named: readonly string[] | undefined;
  node: boolean;
  chaos: ChaosReport;
}

function sameList(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && sameItems(a, b));
}

export class VerdictMemo {
  private last = new Map<string, Entry>();
  private next = new Map<string, Entry>();
  /** Verdicts reused / computed, since this memo was made (tests, bench). */
  hits = 0;
  misses = 0;

  /** The verdict of `state` for the namespace (inode, path): last collection's when its inputs are the same objects. */
  verdict(ns: { inode: number; path: string }, state: NetnsState, named: readonly string[] | undefined, judge: () => ChaosReport, node = false): ChaosReport {
    const key = `${ns.inode}:${ns.path}`;
    const prev = this.last.get(key);
    let entry: Entry;
    if (prev !== undefined && prev.state === state && sameList(prev.named, named) && prev.node === node) {
      this.hits++;
      entry = prev;
    } else {
      this.misses++;
      entry = { state, named, node, chaos: judge() };
    }
    this.next.set(key, entry);
    return entry.chaos;
  }

  /** End of a collection: keep only what it judged. */
  endCollection(): void {
    this.last = this.next;
    this.next = new Map();
  }
}
