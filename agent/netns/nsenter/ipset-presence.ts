/**
 * Does any network namespace on this node hold an ipset? Decided without a process, so the tools reader can read
 * ipsets in every namespace that may hold some (a failed Chaos Mesh injection leaves ipsets and no iptables table)
 * and skip `ipset save` everywhere else. PURE: the caller reads /proc/modules and checks /sys/module/ip_set.
 *
 * The kernel takes a reference on a set type's module for every set of that type it creates and drops it when the
 * set is destroyed (net/netfilter/ipset/ip_set_core.c: find_set_type_get / module_put in ip_set_create and
 * ip_set_destroy_set), so the sum of the `ip_set_hash_*`, `ip_set_bitmap_*` and `ip_set_list_set` refcounts in
 * /proc/modules counts the sets of every namespace. That works when ipset is built as modules (distribution
 * kernels); a kernel with ipset built in (this test machine: no /proc/modules) cannot tell, and then ipset is read
 * wherever the reader would read it anyway plus everywhere `ip_set` exists.
 */
export type IpsetPresence = 'none' | 'some' | 'unknown';

/** `/proc/modules` text (null when the file does not exist) and whether /sys/module/ip_set exists. */
export function ipsetPresence(procModules: string | null, sysModuleIpSet: boolean): IpsetPresence {
  if (procModules === null) return sysModuleIpSet ? 'unknown' : 'none';
  let core = false;
  let sets = 0;
  for (const line of procModules.split('\n')) {
    const [name, , refs] = line.split(' ');
    if (name === 'ip_set') core = true;
    else if (name !== undefined && /^ip_set_(?:hash|bitmap|list)_/.test(name)) {
      const n = Number(refs);
      if (!Number.isInteger(n) || n < 0) return 'unknown';
      sets += n;
    }
  }
  if (!core) return sysModuleIpSet ? 'unknown' : 'none'; // built in (no module line) or absent
  return sets > 0 ? 'some' : 'none';
}
