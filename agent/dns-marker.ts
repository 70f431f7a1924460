/**
 * DNSChaos marker check (temporary home: the process/mount/DNS facts move to agent/proc/): containers whose root
 * holds /etc/resolv.conf.chaos.bak, through /proc/<pid>/root. Failures are recorded in the state, never thrown.
 */
import { stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { errorMessage } from './errors.js';
import type { NetnsState } from './netns/state.js';
import { validatePid } from './runtime/netns-resolve.js';

export async function checkDns(containerPids: { name: string; pid: number }[], procRoot: string, state: NetnsState): Promise<void> {
  for (const c of containerPids) {
    let pid: number;
    try {
      pid = validatePid(`container ${c.name}`, c.pid);
    } catch (err) {
      state.errors.push({ tool: 'dns', reason: 'spawn', message: errorMessage(err) });
      continue;
    }
    const path = posix.join(procRoot, String(pid), 'root', 'etc', 'resolv.conf.chaos.bak');
    try {
      await stat(path);
      state.dnsChaos.push({ container: c.name, pid });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') continue; // no marker: no DNSChaos in this container
      if (code === 'ESRCH') {
        state.errors.push({ tool: 'dns', reason: 'vanished', message: `container ${c.name} (pid ${pid}) exited` });
        continue;
      }
      state.errors.push({ tool: 'dns', reason: 'spawn', message: `cannot stat ${path}: ${code ?? errorMessage(err)}` });
    }
  }
}
