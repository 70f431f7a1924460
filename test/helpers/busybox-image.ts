/**
 * Builds a docker-archive image from Debian's static /bin/busybox, with no registry: a single-layer rootfs
 * (bin/busybox + applet symlinks), an image config whose rootfs.diff_ids is the layer's sha256, and a
 * manifest.json. The same archive imports into containerd (`ctr images import`) and loads into Docker.
 * Built once per busybox binary and kept in a shared cache dir (<tmpdir>/cna-images/<key>/, made visible by an
 * atomic rename), so test processes neither rebuild it nor leave a copy behind each.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, symlink, copyFile, writeFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

export const BUSYBOX_IMAGE = 'chaos-agent-test/busybox:latest';
const BUSYBOX = '/bin/busybox';
/** Shared by every test process; one subdirectory per busybox binary and archive layout. */
export const IMAGE_CACHE_ROOT = join(tmpdir(), 'cna-images');
/** Bump when the archive layout below changes, so a stale cached archive is not reused. */
const LAYOUT_VERSION = 'v1';

let cached: Promise<string> | null = null;

/** Path of the image archive (docker-archive format), built on first call. */
export function busyboxArchive(): Promise<string> {
  cached ??= build();
  return cached;
}

async function build(): Promise<string> {
  if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} not found (apt-get install busybox-static)`);
  const key = createHash('sha256').update(await readFile(BUSYBOX)).update(LAYOUT_VERSION).digest('hex').slice(0, 16);
  const final = join(IMAGE_CACHE_ROOT, key);
  const cachedArchive = join(final, 'busybox-image.tar');
  if (existsSync(cachedArchive)) return cachedArchive;
  await mkdir(IMAGE_CACHE_ROOT, { recursive: true });
  const dir = await mkdtemp(join(IMAGE_CACHE_ROOT, `tmp-${key}-`));
  try {
    await buildInto(dir);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  try {
    await rename(dir, final); // atomic: the cache entry appears complete or not at all
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    await rm(dir, { recursive: true, force: true });
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    // Another process published the same archive first: use theirs.
  }
  return cachedArchive;
}

/** Builds `dir`/busybox-image.tar, leaving nothing else in `dir`. */
async function buildInto(dir: string): Promise<void> {
  const rootfs = join(dir, 'rootfs');
  await mkdir(join(rootfs, 'bin'), { recursive: true });
  for (const d of ['etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'var/run']) await mkdir(join(rootfs, d), { recursive: true });
  await copyFile(BUSYBOX, join(rootfs, 'bin/busybox'));
  const { stdout } = await execa(BUSYBOX, ['--list'], { timeout: 5000 });
  for (const applet of stdout.split('\n').map((s) => s.trim())) {
    if (!applet || applet === 'busybox' || applet.includes('/')) continue;
    await symlink('busybox', join(rootfs, 'bin', applet));
  }
  await writeFile(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  await writeFile(join(rootfs, 'etc/group'), 'root:x:0:\n');
  await writeFile(join(rootfs, 'etc/resolv.conf'), 'nameserver 127.0.0.1\n');

  const out = join(dir, 'out');
  await mkdir(out);
  const layerTar = join(out, 'layer.tar');
  await execa('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', rootfs, '-cf', layerTar, '.'], { timeout: 30_000 });
  const layerDigest = createHash('sha256').update(await readFile(layerTar)).digest('hex');

  const config = {
    architecture: 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/bin'], Cmd: ['/bin/sh'], WorkingDir: '/' },
    rootfs: { type: 'layers', diff_ids: [`sha256:${layerDigest}`] },
    history: [{ created_by: 'chaos-node-agent test image (busybox-static)' }],
  };
  const configJson = JSON.stringify(config);
  const configDigest = createHash('sha256').update(configJson).digest('hex');
  await writeFile(join(out, `${configDigest}.json`), configJson);
  await writeFile(
    join(out, 'manifest.json'),
    JSON.stringify([{ Config: `${configDigest}.json`, RepoTags: [BUSYBOX_IMAGE], Layers: ['layer.tar'] }]),
  );
  const archive = join(dir, 'busybox-image.tar');
  await execa('tar', ['--numeric-owner', '-C', out, '-cf', archive, 'manifest.json', `${configDigest}.json`, 'layer.tar'], {
    timeout: 30_000,
  });
  await rm(rootfs, { recursive: true, force: true });
  await rm(out, { recursive: true, force: true });
}
