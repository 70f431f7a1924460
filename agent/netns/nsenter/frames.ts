/**
 * Splits the output of the one-spawn namespace read (read-script.ts) into per-tool frames. Pure: no I/O.
 *
 * The script brackets every tool it runs with marker lines that start with a random per-call boundary token B
 * and are always preceded by a newline the script itself prints (so a marker starts a line even when the tool's
 * output did not end with one, and that newline is not part of the tool's output):
 *   stdout: "\nB begin NAME T\n" <tool stdout> "\nB end NAME STATUS T\n" ... "\nB done T\n"
 *   stderr: "\nB begin NAME T\n" <tool stderr> ...
 * T is bash's $EPOCHREALTIME (seconds, microseconds after the dot), STATUS the tool's exit status.
 * A frame without an end marker (the script was killed, or output was cut) keeps what was read, status null.
 * A line that starts with the boundary but is not a well-formed marker (or an `end` for another frame) is tool
 * output. With a random token that cannot happen by chance; the parser still never throws on it.
 */

export interface Frame {
  name: string;
  /** $EPOCHREALTIME of the begin marker (seconds since the epoch). */
  begin: number;
  /** $EPOCHREALTIME of the end marker; null without one. */
  end: number | null;
  /** Exit status printed by the end marker; null when the frame never ended (killed, truncated output). */
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface SplitFrames {
  /** In stdout order; a frame seen only on stderr (stdout cut short) comes last, with status null. */
  frames: Frame[];
  /** The script printed its final `done` marker: every step it was given ran to its end. */
  done: boolean;
  /** Text outside any frame: normally empty; nsenter's and bash's own messages land in `stderr`. */
  stray: { stdout: string; stderr: string };
}

type Marker =
  | { kind: 'begin'; name: string; t: number }
  | { kind: 'end'; name: string; status: number; t: number }
  | { kind: 'done'; t: number };

const NAME = '[a-z0-9][a-z0-9-]{0,39}';
const TIME = '\\d{1,12}(?:\\.\\d{1,9})?';
const BEGIN = new RegExp(`^begin (${NAME}) (${TIME})$`);
const END = new RegExp(`^end (${NAME}) (\\d{1,3}) (${TIME})$`);
const DONE = new RegExp(`^done (${TIME})$`);

export function parseMarker(line: string): Marker | null {
  let m = BEGIN.exec(line);
  if (m) return { kind: 'begin', name: m[1]!, t: Number(m[2]) };
  m = END.exec(line);
  if (m) return { kind: 'end', name: m[1]!, status: Number(m[2]), t: Number(m[3]) };
  m = DONE.exec(line);
  if (m) return { kind: 'done', t: Number(m[1]) };
  return null;
}

interface Hit {
  /** Index of the newline that precedes the marker (end of the previous content). */
  at: number;
  /** Index just after the marker line's newline (start of the next content). */
  next: number;
  marker: Marker;
}

/** Well-formed marker lines of one stream, in order; `accept` can refuse one (then it is content). */
function* markers(text: string, boundary: string, accept: (m: Marker) => boolean): Generator<Hit> {
  const tag = `\n${boundary} `;
  let from = 0;
  for (;;) {
    const at = text.indexOf(tag, from);
    if (at < 0) return;
    const lineStart = at + tag.length;
    const nl = text.indexOf('\n', lineStart);
    if (nl < 0) return; // a marker cut by the end of the output: the rest is content
    const marker = parseMarker(text.slice(lineStart, nl));
    if (marker !== null && accept(marker)) {
      yield { at, next: nl + 1, marker };
      from = nl; // the next marker's leading newline may be the very next character
    } else {
      from = at + 1;
    }
  }
}

export function splitFrames(stdout: string, stderr: string, boundary: string): SplitFrames {
  const frames: Frame[] = [];
  let done = false;
  let strayOut = '';
  let open: Frame | null = null;
  let pos = 0;
  // Refuse an `end` that does not close the open frame (it is output), and anything after `done`.
  const accept = (m: Marker): boolean => !done && (m.kind !== 'end' || (open !== null && open.name === m.name));
  for (const hit of markers(stdout, boundary, accept)) {
    const content = stdout.slice(pos, hit.at);
    pos = hit.next;
    if (open) open.stdout = content;
    else strayOut += content;
    const m = hit.marker;
    if (m.kind === 'begin') {
      if (open) frames.push(open); // no end marker: incomplete
      open = { name: m.name, begin: m.t, end: null, status: null, stdout: '', stderr: '' };
    } else if (m.kind === 'end') {
      open!.end = m.t;
      open!.status = m.status;
      frames.push(open!);
      open = null;
    } else {
      if (open) frames.push(open);
      open = null;
      done = true;
    }
  }
  const rest = stdout.slice(pos);
  if (open) {
    open.stdout = rest;
    frames.push(open);
  } else {
    strayOut += rest;
  }

  // stderr: begin markers only; the k-th begin of NAME belongs to the k-th stdout frame named NAME.
  const byName = new Map<string, Frame[]>();
  for (const f of frames) {
    const list = byName.get(f.name);
    if (list) list.push(f);
    else byName.set(f.name, [f]);
  }
  const used = new Map<string, number>();
  let strayErr = '';
  let cur: Frame | null = null;
  let epos = 0;
  for (const hit of markers(stderr, boundary, (m) => m.kind === 'begin')) {
    const content = stderr.slice(epos, hit.at);
    epos = hit.next;
    if (cur) cur.stderr = content;
    else strayErr += content;
    const m = hit.marker as Extract<Marker, { kind: 'begin' }>;
    const k = used.get(m.name) ?? 0;
    used.set(m.name, k + 1);
    let f = byName.get(m.name)?.[k];
    if (!f) {
      f = { name: m.name, begin: m.t, end: null, status: null, stdout: '', stderr: '' };
      frames.push(f);
    }
    cur = f;
  }
  const erest = stderr.slice(epos);
  if (cur) cur.stderr = erest;
  else strayErr += erest;

  return { frames, done, stray: { stdout: strayOut, stderr: strayErr } };
}
