import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ioChaosMounts } from '../../agent/proc/io-mounts.js';
import { blockingMountPoints, mayMatter, mountstatsMayMatter, parseMountinfo } from '../../agent/proc/mountinfo.js';

// Captured in a containerd pod's app container after the IOChaos stand-in of facts.containerd.test.ts: a tmpfs
// volume moved to /__chaosfs__data__ and a kernel FUSE mount with source `toda` on /data (see the fixtures README).
const TODA = readFileSync(new URL('../fixtures/proc/mountinfo-toda.txt', import.meta.url), 'utf8');

describe('mountinfo', () => {
  it('reads every field of a real container mount table', () => {
    const { mounts, errors } = parseMountinfo(TODA);
    expect(errors).toEqual([]);
    expect(mounts).toHaveLength(22);
    expect(mounts[0]).toMatchObject({ id: 97, parentId: 61, device: '0:50', root: '/', mountPoint: '/', fstype: 'overlay', source: 'overlay', optional: [] });
    const resolv = mounts.find((m) => m.mountPoint === '/etc/resolv.conf')!;
    expect(resolv).toMatchObject({ fstype: 'ext4', source: '/dev/vda', device: '254:0' });
    expect(resolv.root).toMatch(/\/sandboxes\/[0-9a-f]{64}\/resolv\.conf$/);
    expect(mounts.at(-1)).toEqual({
      id: 62, parentId: 97, device: '0:57', root: '/', mountPoint: '/data', options: ['rw', 'relatime'], optional: [],
      fstype: 'fuse', source: 'toda', superOptions: ['rw', 'user_id=0', 'group_id=0', 'default_permissions', 'allow_other'],
    });
  });

  it('unescapes octal in paths and keeps optional fields', () => {
    const { mounts } = parseMountinfo('36 35 98:0 /a\\040b /mnt\\011x rw,noatime shared:1 master:2 - ext3 /dev/root rw,errors=continue\n');
    expect(mounts[0]).toMatchObject({ root: '/a b', mountPoint: '/mnt\tx', optional: ['shared:1', 'master:2'], fstype: 'ext3' });
  });

  it('reports unreadable lines and keeps the rest', () => {
    const r = parseMountinfo('garbage\n1 2 3:4 / /x rw - tmpfs t rw\n5 6 7:8 / relative rw - tmpfs t rw\n');
    expect(r.mounts.map((m) => m.mountPoint)).toEqual(['/x']);
    expect(r.errors.map((e) => e.line)).toEqual([1, 3]);
  });

  it('is total', () => {
    fc.assert(fc.property(fc.string({ maxLength: 400 }), (s) => {
      const r = parseMountinfo(s);
      for (const m of r.mounts) expect(m.mountPoint.startsWith('/')).toBe(true);
    }), { numRuns: 2000 });
  });

  it('tells cheaply whether a table needs parsing (FUSE, network filesystems, __chaosfs__), never missing one', () => {
    expect(mayMatter(TODA)).toBe(true);
    const plain = TODA.split('\n').filter((l) => !l.includes(' fuse ') && !l.includes('__chaosfs__')).join('\n');
    expect(mayMatter(plain)).toBe(false);
    expect(mayMatter('1 2 0:9 / /srv rw - nfs4 host:/x rw')).toBe(true);
    expect(mayMatter('1 2 0:9 / /y rw - fuse.sshfs u@h: rw')).toBe(true);
    expect(mayMatter('1 2 0:9 / /vol/__chaosfs__d__ rw - ext4 /dev/sda rw')).toBe(true);
    fc.assert(fc.property(fc.constantFrom('fuse', 'fuseblk', 'fuse.x', 'nfs', 'nfs4', 'cifs', 'smb3', '9p', 'ceph', 'glusterfs', 'afs', 'lustre', 'gfs2', 'ocfs2', 'sshfs', 'ext4', 'tmpfs', 'overlay'), (t) => {
      const line = `1 2 0:9 / /m rw - ${t} src rw`;
      if (blockingMountPoints(parseMountinfo(line).mounts).length > 0) expect(mayMatter(line)).toBe(true);
    }));
  });

  it('tells the same from mountstats (`device S mounted on P with fstype T[ stats]`), never missing what mountinfo would show', () => {
    expect(mountstatsMayMatter('device overlay mounted on / with fstype overlay\ndevice proc mounted on /proc with fstype proc\n')).toBe(false);
    expect(mountstatsMayMatter('device toda mounted on /data with fstype fuse\n')).toBe(true);
    expect(mountstatsMayMatter('device u@h: mounted on /y with fstype fuse.sshfs\n')).toBe(true);
    expect(mountstatsMayMatter('device host:/x mounted on /srv with fstype nfs4 statvers=1.1\n\topts:\trw\n')).toBe(true);
    expect(mountstatsMayMatter('device tmpfs mounted on /vol/__chaosfs__d__ with fstype tmpfs\n')).toBe(true);
    expect(mountstatsMayMatter('device fusefs mounted on /fuse with fstype fusectl\n')).toBe(false); // not `fuse`, not `fuse.`
    // Whatever a mount's fstype and mount point, mountstats says yes whenever its mountinfo line gives a fact.
    const types = fc.constantFrom('fuse', 'fuseblk', 'fuse.x', 'fusectl', 'nfs', 'nfs4', 'nfsd', 'cifs', 'smb3', '9p', 'ceph', 'glusterfs', 'afs', 'lustre', 'gfs2', 'ocfs2', 'sshfs', 'ext4', 'tmpfs', 'overlay');
    const names = fc.constantFrom('data', '__chaosfs__data__', '__chaosfs__', 'x__chaosfs__y', 'a\\040b');
    fc.assert(fc.property(types, names, fc.boolean(), (t, name, stats) => {
      const info = `1 2 0:9 / /m/${name} rw - ${t} src rw\n`;
      const mounts = parseMountinfo(info).mounts;
      const facts = blockingMountPoints(mounts).length + ioChaosMounts(mounts).length;
      const line = `device src mounted on /m/${name} with fstype ${t}${stats ? ' statvers=1.1\n\tage: 1' : ''}\n`;
      if (facts > 0 || mayMatter(info)) expect(mountstatsMayMatter(line)).toBe(true);
    }), { numRuns: 500 });
  });

  it('names the mounts the root reader must not walk into (FUSE, network filesystems)', () => {
    expect(blockingMountPoints(parseMountinfo(TODA).mounts)).toEqual(['/data']);
    const nfs = parseMountinfo('1 2 0:9 / /srv rw - nfs4 host:/x rw\n3 2 0:10 / /y rw - fuse.sshfs u@h: rw\n4 2 0:11 / /z rw - ext4 /dev/sda rw\n');
    expect(blockingMountPoints(nfs.mounts)).toEqual(['/srv', '/y']);
  });
});

describe('IOChaos mounts', () => {
  it('a toda FUSE mount with the volume moved to __chaosfs__ (the capture)', () => {
    expect(ioChaosMounts(parseMountinfo(TODA).mounts)).toEqual([
      { volume: '/data', fuse: { mountId: 62, fstype: 'fuse', source: 'toda' }, movedTo: '/__chaosfs__data__' },
    ]);
  });

  it('after a failed recovery the volume stays moved with no toda mount; nested volume paths keep their parent', () => {
    const lines = [
      '60 97 0:56 / /var/lib/__chaosfs__db__ rw,relatime - tmpfs tmpfs rw',
      '61 97 0:58 / /var/log rw,relatime - fuse.other toda2 rw',
    ].join('\n');
    expect(ioChaosMounts(parseMountinfo(lines).mounts)).toEqual([{ volume: '/var/lib/db', fuse: null, movedTo: '/var/lib/__chaosfs__db__' }]);
  });

  it('recovered: no mount left, nothing to say (the empty __chaosfs__ directory is not a mount)', () => {
    const recovered = TODA.split('\n').filter((l) => !l.includes('/data ') && !l.includes('__chaosfs__')).join('\n');
    expect(ioChaosMounts(parseMountinfo(recovered).mounts)).toEqual([]);
  });
});
