/**
 * Gives back the read-only file pages `serve` mapped while starting and no longer uses (README "Memory: file pages").
 *
 * node's executable is ~99 MB; starting node, loading the bundle, koffi and the reader thread, and the first
 * collection fault in ~44 MB of it and of the libraries (the kernel maps the pages around each faulting one too):
 * the dynamic symbol tables, start-up code, ICU data. They stay in VmRSS for the process's life though most are never
 * read again. madvise(MADV_DONTNEED) on a private file mapping unmaps its pages; the page cache keeps them, and a page
 * read again is mapped again from there (a minor fault). It is the same as the kernel reclaiming them, only sooner,
 * and only safe where no page of the mapping is the process's own copy: a mapping ever written (the relocated
 * RELRO pages, .data) holds anonymous pages, and dropping those would bring back the file's unrelocated bytes. So only
 * read-only private file mappings (`r--p`, `r-xp`) whose smaps say `Anonymous: 0 kB` are released: nothing makes
 * them writable again (node never mprotects its own code), so none can gain an anonymous page between the read of
 * smaps and the call.
 */
import { readFile } from 'node:fs/promises';
import { errorMessage } from './errors.js';
import type { Logger } from './log.js';
import { libcLibrary } from './netns/netlink/libc.js';

/** A mapping whose pages may be released: its start address, length in bytes, file, and resident KB. */
export interface FileMapping {
  start: bigint;
  length: number;
  path: string;
  rssKb: number;
}

const HEAD = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) [0-9a-f]+ \S+ \d+\s*(.*)$/;
const FIELD = /^(Rss|Anonymous):\s+(\d+) kB$/;

/** The read-only private file mappings of /proc/PID/smaps text that hold no anonymous page and some resident one. */
export function releasableMappings(smaps: string): FileMapping[] {
  const out: FileMapping[] = [];
  let cur: (FileMapping & { perms: string; anonKb: number | null }) | null = null;
  const flush = (): void => {
    if (cur !== null && (cur.perms === 'r--p' || cur.perms === 'r-xp') && cur.path.startsWith('/') && cur.anonKb === 0 && cur.rssKb > 0) {
      out.push({ start: cur.start, length: cur.length, path: cur.path, rssKb: cur.rssKb });
    }
  };
  for (const line of smaps.split('\n')) {
    const head = HEAD.exec(line);
    if (head !== null) {
      flush();
      const start = BigInt(`0x${head[1]}`);
      cur = { start, length: Number(BigInt(`0x${head[2]}`) - start), perms: head[3]!, path: head[4]!, rssKb: 0, anonKb: null };
      continue;
    }
    const field = FIELD.exec(line);
    if (field === null || cur === null) continue;
    if (field[1] === 'Rss') cur.rssKb = Number(field[2]);
    else cur.anonKb = Number(field[2]);
  }
  flush();
  return out;
}

const MADV_DONTNEED = 4;

type Madvise = (addr: bigint, length: number, advice: number) => number;
let madviseCall: Madvise | null = null;

function madvise(): Madvise {
  if (madviseCall) return madviseCall;
  const { lib } = libcLibrary();
  // The address as an integer: koffi takes a BigInt for a 64-bit integer, and x86_64 and arm64 pass a pointer and
  // an unsigned long in the same register.
  const call = lib.func('int madvise(uint64_t addr, unsigned long len, int advice)');
  madviseCall = (addr, length, advice) => call(addr, length, advice);
  return madviseCall;
}

/** What one release did: mappings released, their resident KB just before, and the calls that failed. */
export interface FileReleaseReport {
  mappings: number;
  releasedKb: number;
  failed: number;
}

/**
 * Releases this process's releasable file pages (see the header); never throws. `when` names the moment in the log
 * (serve: before its first collection, and once that collection is out).
 */
export async function releaseFilePages(log: Logger, when = 'now', smapsPath = '/proc/self/smaps'): Promise<FileReleaseReport> {
  const report: FileReleaseReport = { mappings: 0, releasedKb: 0, failed: 0 };
  try {
    const call = madvise();
    for (const m of releasableMappings(await readFile(smapsPath, 'utf8'))) {
      if (call(m.start, m.length, MADV_DONTNEED) === 0) {
        report.mappings += 1;
        report.releasedKb += m.rssKb;
      } else report.failed += 1;
    }
    log.debug({ ...report, when }, 'released the file pages mapped at start');
  } catch (err) {
    log.warn({ err: errorMessage(err), when }, 'could not release the file pages mapped at start');
  }
  return report;
}
