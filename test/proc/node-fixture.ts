/**
 * A node's process table as chaos-daemon leaves it, built from Chaos Mesh's sources (pkg/bpm build_linux.go:
 * nsexec argument order; iochaos/httpchaos/stress servers): one pod `web` (container app) under IOChaos and
 * StressChaos, one pod `api` (container main) under HTTPChaos and a memory StressChaos, chaos-daemon in its own
 * hostPID/hostNetwork pod, an impostor named chaos-daemon inside `web`, and chaos-named host processes.
 */
import type { ProcProcess } from '../../agent/proc/scan.js';
import { cgroupsAt, ctr, HEX, pod, proc, scanOf } from './fixtures.js';

export const SB_WEB = HEX('a');
export const C_APP = HEX('b');
export const SB_API = HEX('c');
export const C_MAIN = HEX('d');
export const SB_DAEMON = HEX('e');
export const C_DAEMON = HEX('f');

const HOST = { pid: 4026531836, net: 4026531840 };
const DAEMON_NS = { ...HOST, mnt: 720 };
const k8s = (id: string) => cgroupsAt(`/k8s.io/${id}`);

export function nodeProcesses(): ProcProcess[] {
  return [
    // web: sandbox and app share a pid namespace (as containerd does here), app has its own mount namespace.
    proc({ pid: 100, comm: 'pause', ns: { pid: 500, net: 600, mnt: 700 }, cgroups: k8s(SB_WEB) }),
    proc({ pid: 110, ppid: 90, comm: 'nginx', ns: { pid: 500, net: 600, mnt: 701 }, cgroups: k8s(C_APP) }),
    // api: the container has its own pid namespace.
    proc({ pid: 200, comm: 'pause', ns: { pid: 511, net: 610, mnt: 710 }, cgroups: k8s(SB_API) }),
    proc({ pid: 210, ppid: 91, comm: 'api', ns: { pid: 510, net: 610, mnt: 711 }, cgroups: k8s(C_MAIN) }),
    // chaos-daemon (hostPID + hostNetwork).
    proc({ pid: 300, comm: 'pause', ns: { ...HOST, mnt: 719 }, cgroups: k8s(SB_DAEMON) }),
    proc({ pid: 310, ppid: 92, comm: 'chaos-daemon', ns: DAEMON_NS, cgroups: k8s(C_DAEMON), cmdline: ['/usr/local/bin/chaos-daemon', '--runtime', 'containerd'] }),
    // IOChaos on web/app: nsexec (daemon's namespaces) -> toda in app's pid + mount namespaces, daemon's cgroup.
    proc({ pid: 311, ppid: 310, comm: 'nsexec', ns: DAEMON_NS, cgroups: k8s(C_DAEMON),
      cmdline: ['/usr/local/bin/nsexec', '-l', '-p', '/proc/110/ns/pid', '-m', '/proc/110/ns/mnt', '--', '/usr/local/bin/toda', '--path', '/data', '--verbose', 'info'] }),
    proc({ pid: 312, ppid: 311, comm: 'toda', ns: { pid: 500, net: HOST.net, mnt: 701 }, cgroups: k8s(C_DAEMON),
      cmdline: ['/usr/local/bin/toda', '--path', '/data', '--verbose', 'info'] }),
    // HTTPChaos on api/main: nsexec in the pod's net ns -> tproxy -i (pid + net) -> tproxy --proxy (proxy netns).
    proc({ pid: 313, ppid: 310, comm: 'nsexec', ns: { pid: HOST.pid, net: 610, mnt: 720 }, cgroups: k8s(C_DAEMON),
      cmdline: ['/usr/local/bin/nsexec', '-l', '-n', '/proc/210/ns/net', '-p', '/proc/210/ns/pid', '--', '/usr/local/bin/tproxy', '-i', '-vv'] }),
    proc({ pid: 314, ppid: 313, comm: 'tproxy', ns: { pid: 510, net: 610, mnt: 720 }, cgroups: k8s(C_DAEMON), cmdline: ['/usr/local/bin/tproxy', '-i', '-vv'] }),
    proc({ pid: 315, ppid: 314, comm: 'tproxy', ns: { pid: 510, net: 999, mnt: 998 }, cgroups: k8s(C_DAEMON),
      cmdline: ['/usr/local/bin/tproxy', '-vv', '--proxy', '--ipc-path=/tmp/6f0e.sock'] }),
    // StressChaos on web/app: pause exec'd stress-ng (host pid ns), moved into app's cgroup; one worker.
    proc({ pid: 316, ppid: 310, comm: 'stress-ng', ns: DAEMON_NS, cgroups: k8s(C_APP), cmdline: ['stress-ng', '--cpu', '1', '--cpu-load', '50'] }),
    proc({ pid: 317, ppid: 316, comm: 'stress-ng-cpu', ns: DAEMON_NS, cgroups: k8s(C_APP), cmdline: ['stress-ng-cpu [run]'] }),
    // Memory StressChaos on api/main with EnterNS: pause exec'd nsexec (moved into main's cgroup) -> memStress.
    proc({ pid: 318, ppid: 310, comm: 'nsexec', ns: DAEMON_NS, cgroups: k8s(C_MAIN),
      cmdline: ['nsexec', '-p', '/proc/210/ns/pid', '--', 'memStress', '--size', '100MB', '--workers', '1'] }),
    proc({ pid: 319, ppid: 318, comm: 'memStress', ns: { pid: 510, net: HOST.net, mnt: 720 }, cgroups: k8s(C_MAIN),
      cmdline: ['memStress', '--size', '100MB', '--workers', '1'] }),
    // An impostor named chaos-daemon inside web, and chaos-named host processes (placed nowhere).
    proc({ pid: 400, ppid: 110, comm: 'chaos-daemon', ns: { pid: 500, net: 600, mnt: 701 }, cgroups: k8s(C_APP), cmdline: ['./chaos-daemon'] }),
    proc({ pid: 402, comm: 'toda', cmdline: ['toda', '--path', '/x'] }),
    proc({ pid: 403, comm: 'stress-ng', cmdline: ['stress-ng', '--cpu', '4'] }),
  ];
}

export function nodePods() {
  return [
    pod('web', SB_WEB, 100, [ctr('app', C_APP, 110)]),
    pod('api', SB_API, 200, [ctr('main', C_MAIN, 210)]),
    pod('chaos-daemon-x', SB_DAEMON, 300, [ctr('chaos-daemon', C_DAEMON, 310)], {
      namespace: 'chaos-mesh', hostNetwork: true,
      labels: { 'app.kubernetes.io/component': 'chaos-daemon', 'app.kubernetes.io/name': 'chaos-mesh' },
    }),
  ];
}

export function nodeScan() {
  return scanOf(nodeProcesses());
}
