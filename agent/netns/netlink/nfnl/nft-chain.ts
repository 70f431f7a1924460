/**
 * NFT_MSG_NEWCHAIN (the answer to a GETCHAIN dump): name, handle, and for base chains the hook (number, priority,
 * device(s)), type, policy and counters (nf_tables_api.c nf_tables_fill_chain_info).
 */
import type { Counters } from '../../model/iptables.js';
import type { NftFamily } from '../../model/nftables.js';
import { read } from '../nlmsg.js';
import { Attrs } from './attrs.js';
import { NFGENMSG_LEN, NFPROTO_ARP, NFPROTO_NETDEV, decodeNfGen, familyName } from './nfgen.js';

const NFTA_CHAIN_TABLE = 1;
const NFTA_CHAIN_HANDLE = 2;
const NFTA_CHAIN_NAME = 3;
const NFTA_CHAIN_HOOK = 4;
const NFTA_CHAIN_POLICY = 5;
const NFTA_CHAIN_USE = 6;
const NFTA_CHAIN_TYPE = 7;
const NFTA_CHAIN_COUNTERS = 8;
const NFTA_CHAIN_FLAGS = 10;

const NFTA_HOOK_HOOKNUM = 1;
const NFTA_HOOK_PRIORITY = 2;
const NFTA_HOOK_DEV = 3;
const NFTA_HOOK_DEVS = 4;

const NFTA_COUNTER_BYTES = 1;
const NFTA_COUNTER_PACKETS = 2;

export interface NftChainMsg {
  family: NftFamily;
  table: string;
  name: string;
  handle: number;
  /** Hook number (NF_INET_*, NF_ARP_*, NF_NETDEV_*), null for a regular chain. */
  hooknum: number | null;
  hook: string | null;
  priority: number | null;
  devices: string[];
  /** NF_ACCEPT (1) / NF_DROP (0) for base chains. */
  policy: number | null;
  type: string | null;
  counters: Counters | null;
  flags: number;
  use: number;
}

const INET_HOOKS = ['prerouting', 'input', 'forward', 'output', 'postrouting', 'ingress'];
const ARP_HOOKS = ['input', 'output', 'forward'];
const NETDEV_HOOKS = ['ingress', 'egress'];

/** nft's name of a hook number in a family. */
export function hookName(nfproto: number, hooknum: number): string {
  const names = nfproto === NFPROTO_ARP ? ARP_HOOKS : nfproto === NFPROTO_NETDEV ? NETDEV_HOOKS : INET_HOOKS;
  return names[hooknum] ?? `hook ${hooknum}`;
}

export function decodeChain(payload: Buffer): NftChainMsg | null {
  const nfproto = decodeNfGen(payload).family;
  const family = familyName(nfproto);
  const a = new Attrs('nft chain', payload, NFGENMSG_LEN);
  if (family === null) return null;
  let hooknum: number | null = null;
  let priority: number | null = null;
  const devices: string[] = [];
  const hookBuf = a.raw(NFTA_CHAIN_HOOK);
  if (hookBuf !== null) {
    const h = new Attrs('nft chain hook', hookBuf);
    hooknum = h.u32(NFTA_HOOK_HOOKNUM);
    priority = h.s32(NFTA_HOOK_PRIORITY);
    // Newer kernels send a single device both as NFTA_HOOK_DEV and in NFTA_HOOK_DEVS: the list wins when present.
    const devs = h.raw(NFTA_HOOK_DEVS);
    if (devs !== null) for (const d of Attrs.list(devs)) devices.push(read.str(d.data));
    else {
      const dev = h.str(NFTA_HOOK_DEV);
      if (dev !== null) devices.push(dev);
    }
  }
  let counters: Counters | null = null;
  const c = a.raw(NFTA_CHAIN_COUNTERS);
  if (c !== null) {
    const ca = new Attrs('nft chain counters', c);
    counters = { packets: ca.u64(NFTA_COUNTER_PACKETS) ?? 0, bytes: ca.u64(NFTA_COUNTER_BYTES) ?? 0 };
  }
  return {
    family,
    table: a.need(a.str(NFTA_CHAIN_TABLE), NFTA_CHAIN_TABLE),
    name: a.need(a.str(NFTA_CHAIN_NAME), NFTA_CHAIN_NAME),
    handle: a.u64(NFTA_CHAIN_HANDLE) ?? 0,
    hooknum,
    hook: hooknum === null ? null : hookName(nfproto, hooknum),
    priority,
    devices: devices.sort(),
    policy: a.u32(NFTA_CHAIN_POLICY),
    type: a.str(NFTA_CHAIN_TYPE),
    counters,
    flags: a.u32(NFTA_CHAIN_FLAGS) ?? 0,
    use: a.u32(NFTA_CHAIN_USE) ?? 0,
  };
}
