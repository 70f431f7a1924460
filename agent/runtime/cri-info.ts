/**
 * PURE parsing of the verbose `info` map of CRI PodSandboxStatus / ContainerStatus, for each runtime's shape.
 * Never throws: malformed JSON or wrong types become ValidationErrors in `errors`, the field stays null.
 *
 * Shapes (value of info["info"], a JSON string):
 * - containerd 1.x sandbox: {pid, processStatus, netNamespaceClosed, image, config, runtimeSpec, cniResult, ...};
 *   the netns path is runtimeSpec.linux.namespaces[type=network].path (absent entry = host network).
 * - containerd 2.x sandbox: the same plus sandboxMetadata {Version, Metadata {ID, Name, Config, NetNSPath, IP...}};
 *   runtimeSpec may be missing, NetNSPath is then the netns path.
 * - CRI-O sandbox: {image, pid, runtimeSpec}; with a dropped ("spoofed") infra container only {runtimeSpec}.
 * - cri-dockerd sandbox: no info at all.
 * - containers (containerd, CRI-O, cri-dockerd): {sandboxID, pid, ...}.
 */
import { ValidationError } from '../errors.js';
import { hostPath, validatePid } from './netns-resolve.js';

export type InfoShape =
  | 'containerd'
  | 'containerd-2'
  | 'cri-o'
  | 'cri-o-dropped-infra'
  | 'empty'
  | 'unknown';

export interface SandboxInfo {
  /** Which runtime's shape the info looked like (for logs and tests). */
  shape: InfoShape;
  /** The sandbox (infra/pause) process, null when absent, 0 (not running) or invalid. */
  pid: number | null;
  /** Network namespace file as the runtime reported it (host root not applied), null when absent/invalid. */
  netnsPath: string | null;
  /**
   * true: the info says host network (config network NODE, or a runtimeSpec without a network namespace);
   * false: it says a pod network; null: it does not say.
   */
  hostNetwork: boolean | null;
  /** containerd's netNamespaceClosed (the sandbox was stopped and its netns released). */
  netnsClosed: boolean;
  errors: ValidationError[];
}

export interface ContainerInfoParsed {
  pid: number | null;
  sandboxId: string | null;
  errors: ValidationError[];
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** info["info"] -> object, or an error. Missing map or key -> null without error (the runtime gave no info). */
function decode(info: unknown, what: string, errors: ValidationError[]): Json | null {
  if (info === undefined || info === null) return null;
  if (!isObject(info)) {
    errors.push(new ValidationError(`${what}: info map is ${Array.isArray(info) ? 'an array' : typeof info}, not an object`));
    return null;
  }
  const raw = info.info;
  if (raw === undefined) return null;
  if (typeof raw !== 'string') {
    errors.push(new ValidationError(`${what}: info["info"] is ${typeof raw}, not a JSON string`));
    return null;
  }
  if (raw.trim() === '') return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    errors.push(new ValidationError(`${what}: info["info"] is not valid JSON: ${(err as Error).message}`, { cause: err }));
    return null;
  }
  if (!isObject(parsed)) {
    errors.push(new ValidationError(`${what}: info["info"] is JSON ${parsed === null ? 'null' : Array.isArray(parsed) ? 'array' : typeof parsed}, not an object`));
    return null;
  }
  return parsed;
}

/** `pid` field: absent/null/0 -> null silently (not running); anything else invalid -> error. */
function pidField(obj: Json, what: string, errors: ValidationError[]): number | null {
  if (!('pid' in obj)) return null;
  const v = obj.pid;
  if (v === null || v === 0 || v === '0') return null;
  try {
    return validatePid(what, v);
  } catch (err) {
    errors.push(err as ValidationError);
    return null;
  }
}

function pathField(v: unknown, what: string, errors: ValidationError[]): string | null {
  if (v === undefined || v === null || v === '') return null;
  try {
    hostPath('/', v); // validation only: absolute, no NUL, no `..`, bounded length
    return v as string;
  } catch (err) {
    errors.push(new ValidationError(`${what}: ${(err as Error).message}`, { cause: err }));
    return null;
  }
}

interface SpecNetns {
  /** runtimeSpec.linux.namespaces was readable. */
  present: boolean;
  /** A network namespace entry exists. */
  hasNetwork: boolean;
  path: string | null;
}

/** runtimeSpec.linux.namespaces[type=network].path (OCI runtime spec). */
function specNetns(spec: unknown, what: string, errors: ValidationError[]): SpecNetns {
  const none: SpecNetns = { present: false, hasNetwork: false, path: null };
  if (spec === undefined || spec === null) return none;
  if (!isObject(spec)) {
    errors.push(new ValidationError(`${what}: runtimeSpec is not an object`));
    return none;
  }
  const linux = spec.linux;
  if (linux === undefined || linux === null) return none;
  if (!isObject(linux)) {
    errors.push(new ValidationError(`${what}: runtimeSpec.linux is not an object`));
    return none;
  }
  const namespaces = linux.namespaces;
  if (namespaces === undefined || namespaces === null) return none;
  if (!Array.isArray(namespaces)) {
    errors.push(new ValidationError(`${what}: runtimeSpec.linux.namespaces is not an array`));
    return none;
  }
  for (const ns of namespaces) {
    if (!isObject(ns)) {
      errors.push(new ValidationError(`${what}: runtimeSpec.linux.namespaces has a non-object entry`));
      continue;
    }
    if (ns.type !== 'network') continue;
    return { present: true, hasNetwork: true, path: pathField(ns.path, `${what}: runtimeSpec network namespace path`, errors) };
  }
  return { present: true, hasNetwork: false, path: null };
}

/** NamespaceMode from a CRI config serialised to JSON by Go: a number (2) or, from some encoders, "NODE". */
function configNetworkMode(config: unknown): 'NODE' | 'OTHER' | null {
  if (!isObject(config)) return null;
  const linux = config.linux;
  if (!isObject(linux)) return null;
  const sc = linux.security_context;
  if (!isObject(sc)) return null;
  const no = sc.namespace_options;
  if (!isObject(no)) return null;
  const net = no.network;
  if (net === undefined || net === null) return 'OTHER'; // omitted = 0 = POD
  if (net === 2 || net === 'NODE') return 'NODE';
  return 'OTHER';
}

/** Parse a PodSandboxStatus(verbose) info map. */
export function parseSandboxInfo(info: unknown): SandboxInfo {
  const errors: ValidationError[] = [];
  const what = 'sandbox info';
  const obj = decode(info, what, errors);
  if (!obj) {
    return { shape: errors.length ? 'unknown' : 'empty', pid: null, netnsPath: null, hostNetwork: null, netnsClosed: false, errors };
  }
  const pid = pidField(obj, what, errors);
  const spec = specNetns(obj.runtimeSpec, what, errors);

  let metaPath: string | null = null;
  let metaConfig: unknown = undefined;
  const sm = obj.sandboxMetadata;
  if (sm !== undefined && sm !== null) {
    if (!isObject(sm) || (sm.Metadata !== undefined && !isObject(sm.Metadata))) {
      errors.push(new ValidationError(`${what}: sandboxMetadata is not an object with Metadata`));
    } else if (isObject(sm.Metadata)) {
      metaPath = pathField(sm.Metadata.NetNSPath, `${what}: sandboxMetadata.Metadata.NetNSPath`, errors);
      metaConfig = sm.Metadata.Config;
    }
  }

  let netnsClosed = false;
  if ('netNamespaceClosed' in obj) {
    if (typeof obj.netNamespaceClosed === 'boolean') netnsClosed = obj.netNamespaceClosed;
    else errors.push(new ValidationError(`${what}: netNamespaceClosed is not a boolean`));
  }

  // Host network: the CRI config says NODE, or a readable runtimeSpec has no network namespace at all.
  const mode = configNetworkMode(obj.config) ?? configNetworkMode(metaConfig);
  let hostNetwork: boolean | null = null;
  if (mode === 'NODE') hostNetwork = true;
  else if (spec.present) hostNetwork = !spec.hasNetwork;
  else if (mode === 'OTHER') hostNetwork = false;

  let shape: InfoShape;
  if (sm !== undefined && sm !== null) shape = 'containerd-2';
  else if ('netNamespaceClosed' in obj || 'processStatus' in obj || 'snapshotKey' in obj || 'cniResult' in obj) shape = 'containerd';
  else if ('runtimeSpec' in obj && !('pid' in obj)) shape = 'cri-o-dropped-infra';
  else if ('runtimeSpec' in obj || 'image' in obj) shape = 'cri-o';
  else shape = 'unknown';

  const netnsPath = netnsClosed ? null : (spec.path ?? metaPath);
  return { shape, pid, netnsPath, hostNetwork, netnsClosed, errors };
}

/** Parse a ContainerStatus(verbose) info map: {sandboxID, pid, ...} for every runtime that gives one. */
export function parseContainerInfo(info: unknown): ContainerInfoParsed {
  const errors: ValidationError[] = [];
  const what = 'container info';
  const obj = decode(info, what, errors);
  if (!obj) return { pid: null, sandboxId: null, errors };
  const pid = pidField(obj, what, errors);
  let sandboxId: string | null = null;
  if (obj.sandboxID !== undefined && obj.sandboxID !== null && obj.sandboxID !== '') {
    if (typeof obj.sandboxID === 'string') sandboxId = obj.sandboxID;
    else errors.push(new ValidationError(`${what}: sandboxID is not a string`));
  }
  return { pid, sandboxId, errors };
}
