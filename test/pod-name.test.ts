import { describe, expect, it } from 'vitest';
import { UsageError } from '../agent/errors.js';
import { describePod, parsePodName, podKey, podName } from '../agent/pod-name.js';

describe('parsePodName (inspect / diff NAMESPACE/POD)', () => {
  it('reads NAMESPACE/POD', () => {
    expect(parsePodName('shop/web')).toEqual({ namespace: 'shop', name: 'web' });
    expect(parsePodName('kube-system/coredns-5d78c9869d-x7k2p')).toEqual({ namespace: 'kube-system', name: 'coredns-5d78c9869d-x7k2p' });
  });

  it('reads /POD and -/POD as a pod without a namespace (as inspect and pods print it)', () => {
    expect(parsePodName('/auditplain')).toEqual({ namespace: '', name: 'auditplain' });
    expect(parsePodName('-/auditplain')).toEqual({ namespace: '', name: 'auditplain' });
    expect(podKey(parsePodName('-/auditplain'))).toBe('/auditplain');
    expect(podKey(parsePodName('shop/web'))).toBe('shop/web');
  });

  it('refuses a name that is not one slash between two names, saying how to name a pod without a namespace', () => {
    expect(() => parsePodName('auditplain')).toThrow(new UsageError('expected NAMESPACE/POD, got "auditplain" (a pod without a namespace: /POD or -/POD)'));
    expect(() => parsePodName('shop/web/app')).toThrow('expected NAMESPACE/POD, got "shop/web/app"');
    expect(() => parsePodName('//web')).toThrow('expected NAMESPACE/POD, got "//web"');
    expect(() => parsePodName('')).toThrow('expected NAMESPACE/POD, got ""');
  });

  it('refuses an empty pod name', () => {
    expect(() => parsePodName('shop/')).toThrow(new UsageError('empty pod name in "shop/" (expected NAMESPACE/POD)'));
    expect(() => parsePodName('/')).toThrow('empty pod name in "/"');
    expect(() => parsePodName('-/')).toThrow('empty pod name in "-/"');
  });

  it('refuses . and .. as a namespace or a pod name (no path traversal), and blanks', () => {
    expect(() => parsePodName('shop/..')).toThrow(new UsageError('".." is not a pod name (in "shop/..")'));
    expect(() => parsePodName('../web')).toThrow('".." is not a namespace (in "../web")');
    expect(() => parsePodName('/..')).toThrow('".." is not a pod name (in "/..")');
    expect(() => parsePodName('./web')).toThrow('"." is not a namespace (in "./web")');
    expect(() => parsePodName('shop/we b')).toThrow('pod name "we b" holds a blank or a slash (in "shop/we b")');
    expect(() => parsePodName('sh\top/web')).toThrow('namespace "sh\top" holds a blank or a slash');
    // Names that merely contain dots are names.
    expect(parsePodName('shop/web..1')).toEqual({ namespace: 'shop', name: 'web..1' });
  });
});

describe('podName (the two segments of /debug/pods/{namespace}/{pod})', () => {
  it('checks the parts as parsePodName does, a slash inside a part included', () => {
    expect(podName('', 'auditplain')).toEqual({ namespace: '', name: 'auditplain' });
    expect(podName('-', 'auditplain')).toEqual({ namespace: '', name: 'auditplain' });
    expect(podName('shop', 'web')).toEqual({ namespace: 'shop', name: 'web' });
    expect(() => podName('shop', '')).toThrow('empty pod name in "shop/"');
    expect(() => podName('', '..')).toThrow('".." is not a pod name (in "/..")');
    expect(() => podName('shop', 'a/b')).toThrow('pod name "a/b" holds a blank or a slash');
  });

  it('describes a pod for a message: the namespace-less one says so', () => {
    expect(describePod({ namespace: 'shop', name: 'web' })).toBe('shop/web');
    expect(describePod({ namespace: '', name: 'auditplain' })).toBe('/auditplain (no namespace)');
  });
});
