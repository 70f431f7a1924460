/**
 * The sources the netlink reader reads in every namespace, in order. Each is a SourceReader
 * (read-namespace.ts): it fills its part of the NetnsState and reports its completeness.
 */
import { ebtablesSource } from './ebtables-source.js';
import { ipsetSource, nftablesSource } from './nfnl/source-readers.js';
import type { SourceReader } from './read-namespace.js';
import { rtnlSource } from './rtnl-source.js';
import { legacyIptablesSource } from './xtables/source.js';

export const NETLINK_SOURCES: readonly SourceReader[] = [rtnlSource, legacyIptablesSource, nftablesSource, ipsetSource, ebtablesSource];
