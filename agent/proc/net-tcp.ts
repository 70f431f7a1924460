/**
 * Pure parser of /proc/<pid>/net/tcp and tcp6 (the sockets of that process's network namespace):
 *   `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ...`
 *   `   0: 0100007F:243D 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 123456 ...`
 * Addresses are the kernel's in-memory words printed as hex (%08X per 32-bit word, host byte order: little-endian
 * on x86 and arm64), ports big-endian hex. Total: unreadable lines are skipped and counted.
 */

export const TCP_LISTEN = 0x0a;

export interface TcpSocket {
  family: 'ipv4' | 'ipv6';
  address: string;
  port: number;
  state: number;
  uid: number;
  inode: number;
}

/** One 32-bit word printed by the kernel (%08X of a little-endian u32) -> its 4 bytes in memory order. */
function wordBytes(hex8: string): number[] {
  const v = parseInt(hex8, 16);
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

function ipv6Text(bytes: number[]): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  // Compress the longest run of zero groups (RFC 5952).
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

function parseAddress(text: string): { address: string; port: number; family: TcpSocket['family'] } | null {
  const m = /^([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):([0-9A-Fa-f]{4})$/.exec(text);
  if (!m) return null;
  const hex = m[1]!;
  const port = parseInt(m[2]!, 16);
  if (hex.length === 8) return { family: 'ipv4', address: wordBytes(hex).join('.'), port };
  const bytes: number[] = [];
  for (let i = 0; i < 32; i += 8) bytes.push(...wordBytes(hex.slice(i, i + 8)));
  return { family: 'ipv6', address: ipv6Text(bytes), port };
}

export function parseNetTcp(text: string): { sockets: TcpSocket[]; skipped: number } {
  const sockets: TcpSocket[] = [];
  let skipped = 0;
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const f = line.split(/\s+/);
    const local = f[1] === undefined ? null : parseAddress(f[1]);
    const state = f[3] === undefined ? NaN : parseInt(f[3], 16);
    const uid = Number(f[7]);
    const inode = Number(f[9]);
    if (!local || !/^[0-9A-Fa-f]{2}$/.test(f[3] ?? '') || !Number.isSafeInteger(uid) || !Number.isSafeInteger(inode)) {
      skipped++;
      continue;
    }
    sockets.push({ ...local, state, uid, inode });
  }
  return { sockets, skipped };
}
