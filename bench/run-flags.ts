/**
 * bench/run.ts's command line: its flags (see run.ts's header) parsed into Args with their defaults (--quick's
 * smaller ones), and the repository root, where the default --out and the built agent are.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { UsageError, errorMessage } from '../agent/errors.js';
import { READER_MODES, type ReaderMode } from '../agent/netns/read.js';
import { CORPORA, type CorpusName } from './inject.js';

export interface Args {
  pods: number[];
  corpora: CorpusName[];
  rounds: number;
  warmups: number;
  reader: ReaderMode;
  quick: boolean;
  out: string;
  loadSeconds: number;
  connections: number;
  intervalMs: number;
  idleCollections: number;
  minCollections: number;
}

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function parseFlags(argv: string[]): Args {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        pods: { type: 'string', multiple: true },
        large: { type: 'boolean', default: false },
        corpora: { type: 'string' },
        rounds: { type: 'string' },
        warmups: { type: 'string' },
        reader: { type: 'string', default: 'auto' },
        quick: { type: 'boolean', default: false },
        out: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError(errorMessage(err), { cause: err });
  }
  if (values.help) {
    process.stdout.write('Usage: npm run bench -- [--pods N]... [--large] [--corpora chaos,clean,mesh] [--rounds R] [--warmups W] [--reader auto|netlink|nsenter] [--quick] [--out PATH]\n');
    process.exit(0);
  }
  const int = (flag: string, v: string, min: number, max: number): number => {
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new UsageError(`--${flag}: expected a whole number in ${min}..${max}, got "${v}"`);
    return Number(v);
  };
  const quick = values.quick === true;
  let pods = (values.pods ?? []).flatMap((p) => p.split(',')).map((p) => int('pods', p.trim(), 1, 250));
  if (pods.length === 0) pods = quick ? [3] : [10, 50, 110];
  if (values.large) pods.push(250);
  pods = [...new Set(pods)].sort((a, b) => a - b);
  const corpora = (values.corpora ?? CORPORA.join(',')).split(',').map((c) => c.trim());
  for (const c of corpora) if (!(CORPORA as readonly string[]).includes(c)) throw new UsageError(`--corpora: unknown corpus "${c}" (${CORPORA.join(', ')})`);
  if (!(READER_MODES as readonly string[]).includes(values.reader!)) throw new UsageError(`--reader: one of ${READER_MODES.join(', ')}`);
  return {
    pods,
    corpora: CORPORA.filter((c) => corpora.includes(c)),
    rounds: values.rounds !== undefined ? int('rounds', values.rounds, 1, 100) : quick ? 1 : 11,
    warmups: values.warmups !== undefined ? int('warmups', values.warmups, 1, 200) : quick ? 2 : 60,
    reader: values.reader as ReaderMode,
    quick,
    out: values.out ? resolve(values.out) : join(repoRoot, 'bench', quick ? 'results-quick.json' : 'results.json'),
    loadSeconds: quick ? 2 : 10,
    connections: 50,
    intervalMs: quick ? 1000 : 2000,
    // 20 idle collections: the loop-block target is "every collection", and 5 (until 2026-11-30 04:30 UTC) passed or
    // failed it by luck at 110 pods (worst of 5: 9.5 ms in one run, 29.4 in the next, same serve).
    idleCollections: quick ? 3 : 20,
    minCollections: quick ? 6 : 10,
  };
}
