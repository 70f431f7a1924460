/** A TestNetns view of a real pod's network namespace, so ChaosMeshReplay can inject into it (setup only). */
import { execa } from 'execa';
import type { TestNetns } from '../helpers/netns.js';

export function podNetns(netnsPath: string): TestNetns {
  const exec: TestNetns['exec'] = async (argv, opts = {}) => {
    const r = await execa('nsenter', [`--net=${netnsPath}`, '--', ...argv], {
      timeout: 10_000, reject: false, ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' as const }),
      env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' }, extendEnv: false,
    });
    const out = { stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), exitCode: r.exitCode ?? -1 };
    if (r.failed && opts.reject !== false) throw new Error(`${argv.join(' ')} in ${netnsPath} failed: ${out.stderr.trim()}`);
    return out;
  };
  return {
    name: netnsPath, path: netnsPath, hostIf: null, holderPid: null, exec,
    addPodInterface: () => Promise.reject(new Error('pod namespaces already have eth0')),
    startHolder: () => Promise.reject(new Error('pods have their own processes')),
    destroy: () => Promise.resolve(),
  };
}
