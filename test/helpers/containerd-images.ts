/**
 * The images of the test containerds (containerd.ts), with no registry: the busybox image archive
 * (busybox-image.ts) plus a derived "pause" image (same layer, a sleep as its command), in one archive for
 * `ctr images import`.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { busyboxArchive } from './busybox-image.js';

export const PAUSE_IMAGE = 'chaos-agent-test/pause:latest';

let imagesArchive: Promise<string> | null = null;
/**
 * One archive holding the busybox image and a pause image (same layer, command sleeps forever), cached next to
 * the busybox archive (shared by test processes; the work dir is removed).
 */
export function testImagesArchive(): Promise<string> {
  imagesArchive ??= (async () => {
    const src = await busyboxArchive();
    const final = join(dirname(src), 'test-images-v1.tar');
    if (existsSync(final)) return final;
    const work = await mkdtemp(join(dirname(src), 'tmp-pause-'));
    try {
      await rename(await buildTestImages(src, work), final); // atomic replace: readers see a complete file
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    return final;
  })();
  return imagesArchive;
}

/** Builds the busybox + pause archive in `work` from the busybox archive `src`; returns its path. */
async function buildTestImages(src: string, work: string): Promise<string> {
  await execa('tar', ['-C', work, '-xf', src], { timeout: 30_000 });
  const manifest = JSON.parse(await readFile(join(work, 'manifest.json'), 'utf8')) as {
    Config: string;
    RepoTags: string[];
    Layers: string[];
  }[];
  const base = manifest[0]!;
  const config = JSON.parse(await readFile(join(work, base.Config), 'utf8')) as { config: Record<string, unknown> };
  config.config = { ...config.config, Cmd: ['/bin/sleep', '2147483647'] };
  const json = JSON.stringify(config);
  const { createHash } = await import('node:crypto');
  const name = `${createHash('sha256').update(json).digest('hex')}.json`;
  await writeFile(join(work, name), json);
  manifest.push({ Config: name, RepoTags: [PAUSE_IMAGE], Layers: base.Layers });
  await writeFile(join(work, 'manifest.json'), JSON.stringify(manifest));
  const out = join(work, 'images.tar');
  await execa('tar', ['--numeric-owner', '-C', work, '-cf', out, 'manifest.json', base.Config, name, ...base.Layers], {
    timeout: 30_000,
  });
  return out;
}
