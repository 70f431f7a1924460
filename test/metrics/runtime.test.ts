import { describe, expect, it } from 'vitest';
import { methodLabel } from '../../agent/metrics/runtime.js';

describe('runtime request method label', () => {
  it('keeps CRI methods and bounds Docker paths', () => {
    expect(methodLabel('/runtime.v1.RuntimeService/ListPodSandbox')).toBe('/runtime.v1.RuntimeService/ListPodSandbox');
    expect(methodLabel('/v1.41/containers/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef/json')).toBe('/containers/{id}/json');
    expect(methodLabel('/v1.41/containers/json?filters=%7B%22label%22%3A%5B%5D%7D')).toBe('/containers/json');
    expect(methodLabel('/_ping')).toBe('/_ping');
  });
});
