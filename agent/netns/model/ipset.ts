/** ipset state, as both readers produce it (`ipset save` text, or IPSET_CMD_LIST over nfnetlink). */
import type { ParseError } from '../../errors.js';

export interface IpsetMember {
  /** Element as written (`10.0.0.0/24`, `10.0.0.1,tcp:80`, `net_abc`). */
  value: string;
  /** Extra options after the element (timeout, comment, ...), raw. */
  options: string;
}

export interface Ipset {
  name: string;
  /** hash:net, hash:net,port, list:set, ... */
  type: string;
  /** Creation options, raw (`family inet hashsize 1024 maxelem 65536`) and parsed into key/value. */
  optionsText: string;
  options: Record<string, string | true>;
  members: IpsetMember[];
}

export interface IpsetDump {
  sets: Ipset[];
  errors: ParseError[];
}

