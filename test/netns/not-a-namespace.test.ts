/**
 * A netns path that names something other than a namespace (agent/netns/ns-file.ts): a FIFO, which a plain
 * open(O_RDONLY) waits on until a writer comes (on the main thread: the whole agent; in a worker thread: beyond
 * terminate()), and a plain file. Each is refused with a typed error at the open, by both readers, in every mode, while
 * a real namespace read in the same batch is read in full, and the netlink pool still closes.
 *
 * Without the fix, an open of the FIFO would block forever; so that such a regression fails instead of hanging the
 * run, each test starts a rescuer process that, after RESCUE_AFTER_S, leaves a marker file and opens the FIFO for
 * writing (which lets a blocked open return): a read that finished after the marker appeared was blocked.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execa, execaSync } from 'execa';
import { NetlinkError, NetnsCommandError } from '../../agent/errors.js';
import { withNetns } from '../../agent/netns/netlink/enter.js';
import { NsFileError, openNamespaceFile } from '../../agent/netns/ns-file.js';
import { ToolsReader } from '../../agent/netns/nsenter/read-tools.js';
import { createNetnsReader, type NetlinkThread, type NetnsReader, type ReaderMode } from '../../agent/netns/read.js';
import { describeIntegration } from '../helpers/env.js';
import { createNetns, destroyAll, type TestNetns } from '../helpers/netns.js';

const RESCUE_AFTER_S = 10;

let dir: string;
let seq = 0;
const rescuers: ChildProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cna-notns-'));
});
afterAll(async () => {
  // Each rescuer leads its own process group (its shell and the sleeps it runs): the group is killed, by its id.
  for (const r of rescuers) if (r.pid !== undefined && r.exitCode === null && r.signalCode === null) process.kill(-r.pid, 'SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

/** A fresh FIFO, a plain file, and a rescuer for the FIFO (see the file comment); `rescued()` says if it opened. */
async function badFiles(): Promise<{ fifo: string; plain: string; rescued: () => boolean }> {
  const sub = join(dir, String(++seq));
  mkdirSync(sub);
  const fifo = join(sub, 'fifo');
  await execa('mkfifo', [fifo]);
  const plain = join(sub, 'plain');
  writeFileSync(plain, 'not a namespace\n');
  const marker = join(sub, 'rescued');
  // The marker first, then O_RDWR on the FIFO (never blocks, counts as a writer: every open blocked on it returns),
  // kept open a minute: no blocked read can end before the marker exists.
  const rescuer = spawn('sh', ['-c', `sleep ${RESCUE_AFTER_S}; : > "$2"; exec 3<>"$1"; sleep 60`, 'sh', fifo, marker], { stdio: 'ignore', detached: true });
  rescuers.push(rescuer);
  return { fifo, plain, rescued: () => existsSync(marker) };
}

describe('openNamespaceFile', () => {
  it('a namespace file: the fd and its inode; another inode than expected: vanished', () => {
    const { fd, inode } = openNamespaceFile('/proc/self/ns/net', null);
    closeSync(fd);
    expect(inode).toBe(statSync('/proc/self/ns/net').ino);
    const err = catchSync(() => openNamespaceFile('/proc/self/ns/net', inode + 1));
    expect(err).toBeInstanceOf(NsFileError);
    expect((err as NsFileError).problem).toBe('vanished');
    expect((err as NsFileError).message).toBe(`/proc/self/ns/net: now names another namespace (inode ${inode + 1} -> ${inode})`);
  });

  it('a FIFO, a plain file, a directory: not-namespace at once (no writer needed); a missing path: vanished', async () => {
    const { fifo, plain, rescued } = await badFiles();
    const cases: [string, number | null, string, string][] = [
      [fifo, null, 'not-namespace', `${fifo}: not a namespace file (a FIFO)`],
      [fifo, statSync(fifo).ino, 'not-namespace', `${fifo}: not a namespace file (a FIFO)`],
      [plain, statSync(plain).ino, 'not-namespace', `${plain}: not a namespace file (a regular file on a filesystem of type 0x${statfsType(plain)}, not nsfs)`],
      [dir, null, 'not-namespace', `${dir}: not a namespace file (a directory)`],
      [join(dir, 'absent'), null, 'vanished', `${join(dir, 'absent')}: ENOENT`],
      // A netns mount point left behind once unmounted is a plain file: the namespace is gone, whatever is there.
      [plain, statSync(plain).ino + 1, 'vanished', `${plain}: now names another file, not a namespace file (a regular file on a filesystem of type 0x${statfsType(plain)}, not nsfs) (inode ${statSync(plain).ino + 1} -> ${statSync(plain).ino})`],
    ];
    for (const [path, inode, problem, message] of cases) {
      const err = catchSync(() => openNamespaceFile(path, inode));
      expect(err).toBeInstanceOf(NsFileError);
      expect([(err as NsFileError).problem, (err as NsFileError).message]).toEqual([problem, message]);
    }
    expect(rescued()).toBe(false);
  });
});

function catchSync(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return null;
}

/** The filesystem type of `path` in hex, as stat -f prints it (%t): an independent reading of what statfs gives. */
function statfsType(path: string): string {
  return execaSync('stat', ['-f', '-c', '%t', path]).stdout.trim();
}

const MODES: [ReaderMode, NetlinkThread][] = [['nsenter', 'workers'], ['netlink', 'workers'], ['netlink', 'caller'], ['auto', 'workers']];

describeIntegration('a FIFO or a plain file as a pod\'s netns path, with real namespaces', { root: true, commands: ['mkfifo', 'nsenter', 'ip', 'tc', 'ipset', 'nft', 'iptables-legacy', 'iptables-nft', 'ip6tables-legacy', 'ip6tables-nft'] }, () => {
  let pod: TestNetns;
  const made: NetnsReader[] = [];
  beforeAll(async () => {
    pod = await createNetns('h4x');
    await pod.addPodInterface({ addr: '10.252.9.2/24' });
    await pod.startHolder();
  });
  afterEach(async () => {
    for (const r of made.splice(0)) await r.close();
  });
  afterAll(destroyAll);

  it('the readers themselves: ToolsReader throws NetnsCommandError, withNetns throws NetlinkError, both spawn, before any tool or setns', async () => {
    const { fifo, plain, rescued } = await badFiles();
    const tools = new ToolsReader({ nsenterPath: 'nsenter', toolTimeoutMs: 5000, maxSourceBytes: 1 << 20, budgetMs: 10_000 });
    for (const path of [fifo, plain]) {
      const err = await tools.read({ path, inode: statSync(path).ino, pid: null, procRoot: '/proc' }).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(NetnsCommandError);
      expect([(err as NetnsCommandError).reason, (err as NetnsCommandError).message]).toEqual(['spawn', expect.stringMatching(new RegExp(`^nsenter: ${path}: not a namespace file \\(a (FIFO|regular file on a filesystem of type 0x[0-9a-f]+, not nsfs)\\)$`))]);
      expect((err as NetnsCommandError).cause).toBeInstanceOf(NsFileError);
      const nl = catchSync(() => withNetns(path, statSync(path).ino, () => 'entered'));
      expect(nl).toBeInstanceOf(NetlinkError);
      expect([(nl as NetlinkError).op, (nl as NetlinkError).reason]).toEqual(['open netns', 'spawn']);
      expect((nl as NetlinkError).message).toMatch(/^open netns: .*: not a namespace file \(a (FIFO|regular file on a filesystem of type 0x[0-9a-f]+, not nsfs)\)$/);
    }
    expect(tools.spawns).toBe(0);
    expect(rescued()).toBe(false);
  });

  describe.each(MODES)('--reader %s, netlink reads on the %s thread(s)', (mode, thread) => {
    it('the FIFO and the plain file are unreadable with the reason, at once; the real namespace in the same batch is read in full; close() returns', async () => {
      const { fifo, plain, rescued } = await badFiles();
      const reader = createNetnsReader({
        reader: mode, netnsConcurrency: 3, nsenterPath: 'nsenter', commandTimeoutMs: 5000, maxOutputBytes: 2 << 20, namespaceTimeoutMs: 30_000, procRoot: '/proc',
      }, {}, { netlinkThread: thread });
      made.push(reader);
      // The inodes as a runtime layer that accepted any file would have passed them (netns-resolve.ts now refuses them).
      const rescuedWhenDone: Record<string, boolean> = {};
      const read = (path: string, inode: number, pid: number | null) => reader.read({ path, inode, pid }).then((s) => {
        rescuedWhenDone[path] = rescued();
        return s;
      });
      const [f, p, ok] = await Promise.all([read(fifo, statSync(fifo).ino, null), read(plain, statSync(plain).ino, null), read(pod.path, statSync(pod.path).ino, pod.holderPid)]);
      expect(rescuedWhenDone).toEqual({ [fifo]: false, [plain]: false, [pod.path]: false });
      for (const [s, path, kind] of [[f, fifo, /a FIFO/], [p, plain, /a regular file on a filesystem of type 0x[0-9a-f]+, not nsfs/]] as const) {
        expect(s.sources!.length).toBeGreaterThan(0);
        expect(s.sources!.every((x) => x.status === 'failed' && x.reason === 'spawn')).toBe(true);
        expect(s.sources![0]!.message).toContain(`${path}: not a namespace file (`);
        expect(s.sources![0]!.message).toMatch(kind);
        expect(s.spawns).toBe(0);
        // auto: the netlink read failed for this namespace only, so the tools were tried (and refused it the same way).
        expect(s.reader).toBe(mode === 'netlink' ? 'netlink' : 'nsenter');
      }
      expect(ok.errors).toEqual([]);
      expect(ok.sources!.every((x) => x.status === 'complete')).toBe(true);
      expect(ok.tc.qdiscs.map((q) => q.interface)).toEqual(['lo', 'eth0']);
      if (mode === 'auto') {
        expect(reader.fallbacks.get('failed')).toBe(2);
        expect(reader.netlinkUnavailable).toBeNull();
      }
      const t0 = performance.now();
      await reader.close();
      made.splice(made.indexOf(reader), 1);
      expect(performance.now() - t0).toBeLessThan(5000);
      expect(rescued()).toBe(false);
    });
  });
});
