/**
 * The files a test containerd (containerd.ts) starts with: its config.toml (root, state, sockets, runc root and CNI
 * dirs under its own dir) and the CNI conflist of its slot's bridge and subnet.
 */
import { join } from 'node:path';
import { PAUSE_IMAGE } from './containerd-images.js';

export function configToml(dir: string, slot: number, socket: string): string {
  const q = (s: string): string => JSON.stringify(s);
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return `version = 2
root = ${q(join(dir, 'root'))}
state = ${q(join(dir, 'state'))}
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = ${q(socket)}

[ttrpc]
  address = ${q(`${socket}.ttrpc`)}

[plugins."io.containerd.internal.v1.opt"]
  path = ${q(join(dir, 'opt'))}

[${cri}]
  sandbox_image = ${q(PAUSE_IMAGE)}
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_apparmor = true
  enable_selinux = false

[${cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[${cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[${cri}.containerd.runtimes.runc.options]
  Root = ${q(join(dir, 'runc'))}
  SystemdCgroup = false

[${cri}.cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = ${q(join(dir, 'cni-conf'))}
  max_conf_num = 1
`.replace(/\n\n\n/g, '\n\n') + `# slot ${slot}\n`;
}

export function cniConflist(dir: string, slot: number): string {
  return JSON.stringify(
    {
      cniVersion: '0.4.0',
      name: `cna-${slot}`,
      plugins: [
        {
          type: 'bridge',
          bridge: `cnabr${slot}`,
          isGateway: true,
          ipMasq: false,
          hairpinMode: false,
          ipam: { type: 'host-local', ranges: [[{ subnet: `10.88.${slot}.0/24` }]], dataDir: join(dir, 'cni-ipam') },
        },
      ],
    },
    null,
    2,
  );
}
