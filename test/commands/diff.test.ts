/**
 * diff's human output (formatDiff) on literal entries: a pod whose namespace was never read (no runtime up, a pod
 * not ready) says so in place of the kernel dumps, which would claim no tables, sets or qdiscs.
 */
import { describe, expect, it } from 'vitest';
import { formatDiff } from '../../agent/commands/diff.js';
import { emptyReadEntry, unreadEntry } from './pod-entry.js';

describe('formatDiff', () => {
  it('a namespace never read: the kernel side says it was not read and why', () => {
    const r = unreadEntry('pod sandbox not ready (SANDBOX_NOTREADY)', { runtime: 'containerd' });
    const out = formatDiff(r, 'no Kubernetes credentials');
    expect(out.split('\n').slice(-5)).toEqual(['errors:', '  ! pod sandbox not ready (SANDBOX_NOTREADY)', '', 'kernel: network namespace not read: pod sandbox not ready (SANDBOX_NOTREADY)', '']);
    expect(out).not.toMatch(/iptables|ipsets|tc:/);
  });

  it('a namespace read empty: the kernel dumps as they are', () => {
    const r = emptyReadEntry('nsenter');
    expect(formatDiff(r, '--kube off').split('\n').slice(-5)).toEqual(['kernel:', '  iptables: no tables', '  ipsets: none', '  tc:', '']);
  });
});
