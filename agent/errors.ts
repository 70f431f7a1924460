/**
 * Typed errors. Every error the agent raises on purpose is one of these, carries a stable `code`
 * and, when it wraps another failure, that failure as `cause`.
 */
export class AgentError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A flag, env value or argument the user gave is invalid (CLI exit code 2). */
export class UsageError extends AgentError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('USAGE', message, options);
  }
}

/** A runtime (CRI or Docker) call failed. `method` is the RPC or HTTP path, `grpcCode`/`status` when known. */
export class RuntimeError extends AgentError {
  readonly endpoint: string;
  readonly method: string;
  constructor(
    endpoint: string,
    method: string,
    message: string,
    options?: { cause?: unknown; code?: string },
  ) {
    super(options?.code ?? 'RUNTIME', `${endpoint} ${method}: ${message}`, options);
    this.endpoint = endpoint;
    this.method = method;
  }
}

/** Data that came from a runtime or the kernel (an ID, a PID, a path) failed validation. */
export class ValidationError extends AgentError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID', message, options);
  }
}

/** A tool run inside a network namespace failed: timeout, non-zero exit, output too large, spawn error. */
export class NetnsCommandError extends AgentError {
  readonly tool: string;
  /** One of: timeout, exit, output_limit, spawn, vanished */
  readonly reason: NetnsErrorReason;
  readonly stderr: string;
  constructor(
    tool: string,
    reason: NetnsErrorReason,
    message: string,
    options?: { cause?: unknown; stderr?: string },
  ) {
    super(`NETNS_${reason.toUpperCase()}`, `${tool}: ${message}`, options);
    this.tool = tool;
    this.reason = reason;
    this.stderr = options?.stderr ?? '';
  }
}
export type NetnsErrorReason = 'timeout' | 'exit' | 'output_limit' | 'spawn' | 'vanished' | 'parse';

/**
 * A netlink or getsockopt exchange with the kernel failed: `op` names the request (e.g. `RTM_GETQDISC dump`),
 * `errno` the kernel's answer when there is one (0 otherwise), `reason` how the read is accounted
 * (timeout, output_limit, vanished when the namespace is gone, spawn for anything else the kernel refused).
 */
export class NetlinkError extends AgentError {
  readonly op: string;
  readonly errno: number;
  readonly reason: NetnsErrorReason;
  constructor(op: string, reason: NetnsErrorReason, message: string, options?: { cause?: unknown; errno?: number }) {
    super(`NETLINK_${reason.toUpperCase()}`, `${op}: ${message}`, options);
    this.op = op;
    this.errno = options?.errno ?? 0;
    this.reason = reason;
  }
}

/**
 * Bytes from the kernel that a decoder cannot read: `what` names the structure, `offset` where it went wrong.
 * Decoders are pure and total: they return or throw this, never anything else.
 */
export class DecodeError extends AgentError {
  readonly what: string;
  readonly offset: number;
  constructor(what: string, offset: number, message: string, options?: { cause?: unknown }) {
    super('DECODE', `${what} at byte ${offset}: ${message}`, options);
    this.what = what;
    this.offset = offset;
  }
}

/** A parser met a line it cannot read. `line` is 1-based; the parser keeps going and returns these alongside its data. */
export class ParseError extends AgentError {
  readonly line: number;
  readonly text: string;
  constructor(what: string, line: number, text: string, message: string) {
    super('PARSE', `${what}: line ${line}: ${message}`);
    this.line = line;
    this.text = text;
  }
}

/** Why a path inside a pod's root was not read (agent/proc/pod-root.ts). Every one is the pod's doing or its state, never the agent's. */
export type PodPathReason =
  | 'absolute-symlink'
  | 'escape'
  | 'too-many-links'
  | 'not-regular'
  | 'unsafe-mount'
  | 'timeout'
  | 'vanished'
  | 'raced'
  | 'io';

/**
 * A path inside a pod's root (`/proc/<pid>/root/...`) that the agent refused or failed to read: `podPath` is the
 * path as the pod sees it, `reason` how it is counted (on that pod, never as a node-wide failure).
 */
export class PodPathError extends AgentError {
  readonly podPath: string;
  readonly reason: PodPathReason;
  constructor(podPath: string, reason: PodPathReason, message: string, options?: { cause?: unknown }) {
    super(`POD_PATH_${reason.toUpperCase().replace(/-/g, '_')}`, `${podPath}: ${message}`, options);
    this.podPath = podPath;
    this.reason = reason;
  }
}

/** Message of an unknown thrown value, for logs and error lists. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
