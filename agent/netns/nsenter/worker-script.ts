/**
 * The constant bash script of a netns worker (worker.ts), and the encoding of the one-line requests it reads.
 *
 * A worker is `/bin/bash --norc --noprofile -c WORKER_SCRIPT chaos-netns-worker <nsenter> <READ_SCRIPT>`, started once by the runner and
 * kept: it does the forking that Node would otherwise do per namespace (Node's spawn uses fork(), whose cost grows
 * with the agent's RSS and blocks the event loop). The script is a string literal, never built from data.
 *
 * Request (one line on the worker's stdin, fields separated by TAB, none of which can occur in a field: every field
 * is validated by encodeRequest before it is written):
 *   <boundary> TAB <timeout seconds> TAB <kill grace seconds> TAB <netns path> TAB <step> [TAB <step>...]
 * The worker reads it with `IFS=$'\t' read -r -a f`, checks the shapes again (hex boundary, decimal seconds,
 * absolute path) and uses the fields ONLY as quoted arguments, never as code:
 *   timeout -k <grace> <seconds> <nsenter> --net=<path> -- /bin/bash --norc --noprofile -c "$READ_SCRIPT" bash <boundary> <steps...>
 * with stdin from /dev/null (the read script's tc-auto step builds the tc batch from /proc/self/net/dev inside the
 * namespace, so no request needs an input). timeout(1) puts itself in a process group of its own and, at the
 * deadline, sends SIGTERM to that whole group (nsenter's bash and the tool it runs), then SIGKILL after the grace.
 *
 * Reply, on the worker's stdout (the read script's own frames in between, see frames.ts):
 *   "\n<B> pid <N>\n"  first, before anything of the request: N is the PID that becomes timeout(1), i.e. the
 *                      process group of everything the request runs (Node kills that group if it must);
 *   ... the read script's stdout ...
 *   "\n<B> exit <S>\n" last: S is timeout's exit status (124: timed out; 125-127: timeout or nsenter could not run;
 *                      otherwise the read script's status).
 * and on its stderr: the read script's (and nsenter's / timeout's own) stderr, then "\n<B> exit\n".
 * Node ends a request when it has seen both `exit` markers. B is the request's random boundary, so neither the
 * tools' output nor a previous request can forge a marker. A malformed request makes the worker exit (status 3).
 * At end of file on its stdin (Node closed it, or Node died) the worker exits after the current request.
 */
import { ValidationError } from '../../errors.js';
import { isScriptStep } from './read-script.js';

export const WORKER_SCRIPT = `set -f
N=$1
R=$2
hex='^[0-9a-f]{16,64}$'
secs='^[0-9]{1,7}(\\.[0-9]{1,3})?$'
while IFS=$'\\t' read -r -a f; do
  if (( \${#f[@]} < 5 )) || [[ ! \${f[0]} =~ $hex || ! \${f[1]} =~ $secs || ! \${f[2]} =~ $secs || \${f[3]} != /* ]]; then
    printf 'netns-worker: malformed request\\n' >&2
    exit 3
  fi
  (
    printf '\\n%s pid %s\\n' "\${f[0]}" "$BASHPID"
    exec timeout -k "\${f[2]}" "\${f[1]}" "$N" --net="\${f[3]}" -- /bin/bash --norc --noprofile -c "$R" bash "\${f[0]}" "\${f[@]:4}"
  ) </dev/null
  st=$?
  printf '\\n%s exit\\n' "\${f[0]}" >&2
  printf '\\n%s exit %s\\n' "\${f[0]}" "$st"
done
`;

/** $0 of a worker (its name in ps). */
export const WORKER_NAME = 'chaos-netns-worker';

export interface WorkerRequestFields {
  /** Random per-request token: lowercase hex, 16-64 characters. */
  boundary: string;
  /** timeout(1)'s deadline for the whole read script. */
  timeoutMs: number;
  /** timeout(1)'s -k: SIGKILL this long after the SIGTERM. */
  graceMs: number;
  /** Already checked by validateNetnsPath (absolute, no `..`, no control characters). */
  netnsPath: string;
  steps: readonly string[];
}

const BOUNDARY = /^[0-9a-f]{16,64}$/;
/** Characters that would end a field or a line on the wire (or reach bash as a NUL). */
const WIRE_UNSAFE = /[\t\n\r\0]/;
const MAX_SECONDS = 9_999_999;

/** Milliseconds -> the worker's `secs` shape (at least 0.001). */
export function wireSeconds(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0 || ms / 1000 > MAX_SECONDS) throw new ValidationError(`netns worker: bad duration ${ms} ms`);
  return (Math.max(1, Math.ceil(ms)) / 1000).toFixed(3);
}

/** The request line (with its newline), or ValidationError before anything is written. */
export function encodeRequest(r: WorkerRequestFields): string {
  if (!BOUNDARY.test(r.boundary)) throw new ValidationError('netns worker: boundary must be 16-64 lowercase hex characters');
  if (typeof r.netnsPath !== 'string' || !r.netnsPath.startsWith('/') || WIRE_UNSAFE.test(r.netnsPath)) {
    throw new ValidationError(`netns worker: netns path ${JSON.stringify(String(r.netnsPath)).slice(0, 200)} cannot be sent (TAB, newline or NUL)`);
  }
  if (r.steps.length === 0) throw new ValidationError('netns worker: no steps');
  for (const s of r.steps) {
    if (!isScriptStep(s)) throw new ValidationError(`netns worker: step ${JSON.stringify(String(s)).slice(0, 80)} is not allowed`);
  }
  return `${[r.boundary, wireSeconds(r.timeoutMs), wireSeconds(r.graceMs), r.netnsPath, ...r.steps].join('\t')}\n`;
}
