/**
 * Slots of the test containerds (containerd.ts): one per harness, taken with an O_EXCL mkdir under SLOTS_DIR/<n>,
 * giving bridge cnabr<n> and subnet 10.88.<n>.0/24; a slot whose owner process is gone is reclaimed.
 */
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ifGone, ipLinkDelete } from './containerd-leftovers.js';

export const SLOTS_DIR = '/tmp/cna-slots';
const MAX_SLOT = 250;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Take a free slot (O_EXCL mkdir), reclaiming slots whose owner process is gone. */
export async function takeSlot(): Promise<number> {
  await mkdir(SLOTS_DIR, { recursive: true });
  const start = 1 + ((process.pid * 7) % MAX_SLOT);
  for (let i = 0; i < MAX_SLOT; i++) {
    const slot = 1 + ((start - 1 + i) % MAX_SLOT);
    const dir = join(SLOTS_DIR, String(slot));
    try {
      await mkdir(dir);
      await writeFile(join(dir, 'owner'), String(process.pid));
      return slot;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    // Taken: reclaim it if its owner is dead (or it never got an owner within a minute).
    let stale = false;
    try {
      const owner = Number(await readFile(join(dir, 'owner'), 'utf8'));
      stale = !Number.isInteger(owner) || owner <= 0 || !alive(owner);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      const st = await stat(dir).catch(ifGone(null));
      stale = st !== null && Date.now() - st.mtimeMs > 60_000;
    }
    if (!stale) continue;
    const grave = join(SLOTS_DIR, `stale-${slot}-${process.pid}-${i}`);
    try {
      await rename(dir, grave); // atomic: only one reclaimer wins
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    await rm(grave, { recursive: true, force: true });
    await ipLinkDelete(`cnabr${slot}`);
    i--; // retry this slot
  }
  throw new Error(`no free containerd test slot under ${SLOTS_DIR} (${MAX_SLOT} in use)`);
}
