import { afterAll, describe, expect, it } from 'vitest';
import { NetlinkError } from '../../../../agent/errors.js';
import { withNetns } from '../../../../agent/netns/netlink/enter.js';
import { SetIndex, SO_IP_SET, forgetProtocolVersion, type SockoptSocket } from '../../../../agent/netns/netlink/xt/set-index.js';
import { describeIntegration } from '../../../helpers/env.js';
import { createNetns, destroyAll } from '../../../helpers/netns.js';

describe('SetIndex on a recorded socket', () => {
  it('asks the version once, caches names, and treats EINVAL as no set', () => {
    forgetProtocolVersion();
    const asked: number[] = [];
    const socket: SockoptSocket = {
      getsockopt(_op, level, name, buf) {
        expect([level, name]).toEqual([0, SO_IP_SET]);
        const op = buf.readUInt32LE(0);
        if (op === 0x100) {
          buf.writeUInt32LE(7, 4);
          return 8;
        }
        expect(buf.readUInt32LE(4)).toBe(7);
        const index = buf.readUInt16LE(8);
        asked.push(index);
        if (index > 3) throw new NetlinkError('x', 'spawn', 'EINVAL', { errno: 22 });
        buf.fill(0, 8);
        if (index === 1) buf.write('set-one', 8);
        return buf.length;
      },
    };
    const idx = new SetIndex(socket);
    expect(idx.name(1)).toBe('set-one');
    expect(idx.name(1)).toBe('set-one');
    expect(idx.name(0)).toBeNull();
    expect(idx.name(9)).toBeNull();
    expect(idx.name(65535)).toBeNull();
    expect(asked).toEqual([1, 0, 9]);
    expect(idx.calls).toBe(4);
    expect(idx.lastError).toBeNull();
    // The version is the thread's, not the read's: a later SetIndex (the next namespace read) asks only names.
    const next = new SetIndex(socket);
    expect(next.name(1)).toBe('set-one');
    expect(next.calls).toBe(1);
  });

  it('asks the version again after the kernel refused the one it had (EPROTO)', () => {
    forgetProtocolVersion();
    let versions = 0;
    let refuse = true;
    const socket: SockoptSocket = {
      getsockopt(_op, _level, _name, buf) {
        if (buf.readUInt32LE(0) === 0x100) {
          versions++;
          buf.writeUInt32LE(6, 4);
          return 8;
        }
        if (refuse) {
          refuse = false;
          throw new NetlinkError('x', 'spawn', 'EPROTO', { errno: 71 });
        }
        buf.fill(0, 8);
        buf.write('s', 8);
        return buf.length;
      },
    };
    expect(new SetIndex(socket).name(0)).toBeNull();
    expect(new SetIndex(socket).name(0)).toBe('s');
    expect(versions).toBe(2);
  });

  it('keeps the first real failure for the notes', () => {
    forgetProtocolVersion();
    const idx = new SetIndex({
      getsockopt() {
        throw new NetlinkError('SO_IP_SET VERSION', 'spawn', 'getsockopt: ENOPROTOOPT', { errno: 92 });
      },
    });
    expect(idx.name(0)).toBeNull();
    expect(idx.lastError?.errno).toBe(92);
  });
});

describeIntegration('SetIndex in a real namespace', { root: true, commands: ['ip', 'ipset'] }, () => {
  afterAll(destroyAll);

  it('names sets by kernel index, as iptables-save sees them, after renames and destroys', async () => {
    const ns = await createNetns('xsi');
    for (const s of ['a-first', 'b-second', 'c-third']) await ns.exec(['ipset', 'create', s, 'hash:net']);
    await ns.exec(['ipset', 'destroy', 'b-second']);
    await ns.exec(['ipset', 'rename', 'c-third', 'c-renamed']);
    const { value } = withNetns(ns.path, null, (inside) => {
      const raw = inside.raw('ipv4');
      try {
        const idx = new SetIndex(raw);
        return [0, 1, 2, 3, 300].map((i) => idx.name(i));
      } finally {
        raw.close();
      }
    });
    expect(value).toEqual(['a-first', null, 'c-renamed', null, null]);
  });
});
