/**
 * How a user names one pod: the NAMESPACE/POD argument of inspect and diff, and the {namespace}/{pod} of
 * /debug/pods/{namespace}/{pod}. One parser for both, so the CLI and the server accept the same names.
 *
 * A container without Kubernetes labels (a plain `docker run`) is a pod with an empty namespace: `inspect` prints it
 * `pod /NAME`, `pods` prints `-` in its NAMESPACE column. Both forms name it: `/NAME` and `-/NAME`. `-` cannot be a
 * Kubernetes namespace (a DNS label starts with a letter or a digit), so reading it as "no namespace" hides no pod.
 */
import { UsageError } from './errors.js';

export interface PodName {
  /** '' for a pod without a namespace. */
  readonly namespace: string;
  readonly name: string;
}

/** What `pods` prints in the NAMESPACE column for a pod without one; accepted as that namespace. */
export const NO_NAMESPACE = '-';

/** `NAMESPACE/POD`, `/POD` or `-/POD` (the last two: no namespace). Throws UsageError saying what is wrong. */
export function parsePodName(arg: string): PodName {
  const parts = arg.split('/');
  if (parts.length !== 2) {
    throw new UsageError(`expected NAMESPACE/POD, got "${arg}" (a pod without a namespace: /POD or -/POD)`);
  }
  return podName(parts[0]!, parts[1]!, arg);
}

/**
 * A namespace and a pod name given apart (the two path segments of /debug/pods/{namespace}/{pod}), checked as
 * parsePodName checks them: the name is not empty, neither holds a blank or a slash, neither is `.` or `..`.
 */
export function podName(namespace: string, name: string, given = `${namespace}/${name}`): PodName {
  if (name === '') throw new UsageError(`empty pod name in "${given}" (expected NAMESPACE/POD)`);
  for (const [what, value] of [['namespace', namespace], ['pod name', name]] as const) {
    if (/[\s/]/.test(value)) throw new UsageError(`${what} "${value}" holds a blank or a slash (in "${given}")`);
    if (value === '.' || value === '..') throw new UsageError(`"${value}" is not a ${what} (in "${given}")`);
  }
  return { namespace: namespace === NO_NAMESPACE ? '' : namespace, name };
}

/** The key a pod is matched by: `namespace/name`, `/name` without a namespace (as inspect prints it). */
export const podKey = (p: PodName): string => `${p.namespace}/${p.name}`;

/** A pod for a message: `shop/web`, or `/web (no namespace)`. */
export const describePod = (p: PodName): string => (p.namespace === '' ? `/${p.name} (no namespace)` : `${p.namespace}/${p.name}`);
