/**
 * The shipped manifests: schema validation (kubernetes-models for core/apps, @kubernetes-models/
 * prometheus-operator for ServiceMonitor/PrometheusRule), the DaemonSet's security policy, consistency with the
 * agent's own flags and port, the alerts' and dashboard's shape, the ConfigMap in sync with the dashboard JSON, and
 * the Dockerfile's structure. What the expressions mean is proven by Prometheus itself: promtool.test.ts (syntax,
 * alert unit tests) and prometheus.test.ts (a real server scraping a real agent).
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { DEFAULT_PORT, FLAGS, loadConfig } from '../../agent/config.js';
import { API_GROUP, RESOURCES } from '../../agent/intent/resources.js';
import { agentContainer, byKind, packageVersion, REPO, repoText, yamlDocs, type Obj } from './deploy-files.js';
import { labelValuesQuery } from './dashboard-queries.js';

const docs = yamlDocs('daemonset.yaml');
const ds = byKind(docs, 'DaemonSet');
const svc = byKind(docs, 'Service');
const sa = byKind(docs, 'ServiceAccount');
const ns = byKind(docs, 'Namespace');
const role = byKind(docs, 'ClusterRole');
const binding = byKind(docs, 'ClusterRoleBinding');
const pod = ds.spec.template.spec as Obj;
const c = agentContainer(ds);
const sm = byKind(yamlDocs('deploy/servicemonitor.yaml'), 'ServiceMonitor');
const rule = byKind(yamlDocs('deploy/prometheusrule.yaml'), 'PrometheusRule');
const netpol = byKind(yamlDocs('deploy/networkpolicy.yaml'), 'NetworkPolicy');
const cm = byKind(yamlDocs('deploy/grafana-dashboard-configmap.yaml'), 'ConfigMap');
const dashText = repoText('deploy/grafana-dashboard.json');
const dash = JSON.parse(dashText) as Obj;
const alerts = (rule.spec.groups as Obj[]).flatMap((g) => g.rules as Obj[]);

const RECOMMENDED = ['app.kubernetes.io/name', 'app.kubernetes.io/instance', 'app.kubernetes.io/component', 'app.kubernetes.io/part-of', 'app.kubernetes.io/version'];

describe('schemas', () => {
  it('daemonset.yaml holds Namespace, ServiceAccount, DaemonSet, Service in one namespace, then the cluster-scoped RBAC', () => {
    expect(docs.map((d) => d.kind)).toEqual(['Namespace', 'ServiceAccount', 'DaemonSet', 'Service', 'ClusterRole', 'ClusterRoleBinding']);
    for (const d of docs.slice(1, 4)) expect(d.metadata.namespace).toBe(ns.metadata.name);
    for (const d of docs.slice(4)) expect(d.metadata.namespace).toBeUndefined();
    expect(pod.serviceAccountName).toBe(sa.metadata.name);
  });

  it('every manifest validates against its Kubernetes schema', () => {
    expect(() => new Namespace(ns as never).validate()).not.toThrow();
    expect(() => new ServiceAccount(sa as never).validate()).not.toThrow();
    expect(() => new DaemonSet(ds as never).validate()).not.toThrow();
    expect(() => new Service(svc as never).validate()).not.toThrow();
    expect(() => new ServiceMonitor(sm as never).validate()).not.toThrow();
    expect(() => new PrometheusRule(rule as never).validate()).not.toThrow();
    expect(() => new ConfigMap(cm as never).validate()).not.toThrow();
    expect(() => new NetworkPolicy(netpol as never).validate()).not.toThrow();
    expect(() => new ClusterRole(role as never).validate()).not.toThrow();
    expect(() => new ClusterRoleBinding(binding as never).validate()).not.toThrow();
  });

  it('the validators reject wrong types (so the test above can fail)', () => {
    const bad = structuredClone(ds);
    bad.spec.template.spec.hostPID = 'yes';
    expect(() => new DaemonSet(bad as never).validate()).toThrow(/hostPID/);
    const badPort = structuredClone(svc);
    badPort.spec.ports[0].port = 'http';
    expect(() => new Service(badPort as never).validate()).toThrow();
    const badSm = structuredClone(sm);
    badSm.spec.endpoints[0].relabelings[0].action = 'rename';
    expect(() => new ServiceMonitor(badSm as never).validate()).toThrow();
    const badRule = structuredClone(rule);
    delete badRule.spec.groups[0].rules[0].expr;
    expect(() => new PrometheusRule(badRule as never).validate()).toThrow(/expr/);
    const badPol = structuredClone(netpol);
    badPol.spec.ingress[0].ports[0].port = { number: 9766 };
    expect(() => new NetworkPolicy(badPol as never).validate()).toThrow();
    const badRole = structuredClone(role);
    badRole.rules[0].verbs = 'get';
    expect(() => new ClusterRole(badRole as never).validate()).toThrow();
  });
});

describe('DaemonSet security policy', () => {
  const sc = c.securityContext as Obj;

  it('hostPID for /proc/<pid>/ns/net, but neither hostNetwork nor hostIPC', () => {
    expect(pod.hostPID).toBe(true);
    expect(pod.hostNetwork ?? false).toBe(false);
    expect(pod.hostIPC ?? false).toBe(false);
  });

  it('not privileged, no privilege escalation, read-only root, root with exactly the four capabilities', () => {
    expect(sc.privileged).toBe(false);
    expect(sc.allowPrivilegeEscalation).toBe(false);
    expect(sc.readOnlyRootFilesystem).toBe(true);
    expect(sc.runAsUser).toBe(0);
    expect(sc.capabilities.drop).toEqual(['ALL']);
    expect([...sc.capabilities.add].sort()).toEqual(['NET_ADMIN', 'NET_RAW', 'SYS_ADMIN', 'SYS_PTRACE']);
  });

  it('seccomp RuntimeDefault on the pod and the container; a service-account token only with --kube=on', () => {
    expect(pod.securityContext.seccompProfile).toEqual({ type: 'RuntimeDefault' });
    expect(sc.seccompProfile).toEqual({ type: 'RuntimeDefault' });
    const cfg = loadConfig(c.args as string[], {});
    expect(cfg.kube).toBe('on');
    expect(pod.automountServiceAccountToken).toBe(cfg.kube === 'on');
    // Other pods that would use the ServiceAccount get no token.
    expect(sa.automountServiceAccountToken).toBe(false);
  });

  it('the ClusterRole allows get/list/watch on exactly the chaos-mesh.org resources the agent reads, bound to its ServiceAccount', () => {
    expect(role.rules).toEqual([{ apiGroups: [API_GROUP], resources: RESOURCES.map((r) => r.plural), verbs: ['get', 'list', 'watch'] }]);
    expect(role.aggregationRule).toBeUndefined();
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: ns.metadata.name }]);
  });

  it('host paths are read-only, under /host, and cover every default runtime socket and netns directory', () => {
    const vols = new Map((pod.volumes as Obj[]).map((v) => [v.name, v]));
    const hostMounts = (c.volumeMounts as Obj[]).filter((m) => vols.get(m.name)?.hostPath);
    expect(hostMounts.length).toBeGreaterThan(0);
    for (const m of hostMounts) {
      const hp = vols.get(m.name)!.hostPath.path as string;
      expect(m.readOnly, m.name).toBe(true);
      expect(m.mountPath, m.name).toBe(`/host${hp}`);
      expect(m.mountPropagation, m.name).toBe('HostToContainer');
    }
    // Every hostPath volume is mounted (none left dangling), and none is a socket file.
    expect(hostMounts.length).toBe([...vols.values()].filter((v) => v.hostPath).length);
    for (const v of vols.values()) if (v.hostPath) expect(v.hostPath.type).toBe('Directory');
    // The paths the agent looks under --host-root for (notes/cri-and-runtimes.md) and netns bind mounts.
    const needed = [
      '/run/containerd/containerd.sock', '/run/k3s/containerd/containerd.sock', '/var/run/crio/crio.sock',
      '/run/crio/crio.sock', '/var/run/cri-dockerd.sock', '/var/run/docker.sock',
      '/var/run/netns/cni-0000', '/run/netns/cni-0000',
      // The host's cgroup filesystem (hostCgroupRoot): container stats read from each container's cgroup.
      '/sys/fs/cgroup/memory',
    ];
    const covered = (p: string) => hostMounts.some((m) => `/host${p}`.startsWith(`${m.mountPath}/`));
    expect(needed.filter((p) => !covered(p))).toEqual([]);
  });

  it('writable emptyDirs exactly where the tools write (/run for xtables.lock, /tmp)', () => {
    const vols = new Map((pod.volumes as Obj[]).map((v) => [v.name, v]));
    const writable = (c.volumeMounts as Obj[]).filter((m) => !m.readOnly).map((m) => [m.mountPath, Object.keys(vols.get(m.name)!).filter((k) => k !== 'name')[0]]);
    expect(writable.sort()).toEqual([['/run', 'emptyDir'], ['/tmp', 'emptyDir']]);
  });

  it('runs on every node: tolerate everything, system-node-critical, rolling update 10%', () => {
    expect(pod.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(pod.priorityClassName).toBe('system-node-critical');
    expect(ds.spec.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '10%' } });
  });

  it('requests and limits (starting values, refined by the benchmark)', () => {
    expect(c.resources).toEqual({ requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '320Mi' } });
  });
});

describe('DaemonSet matches the agent', () => {
  it('args are valid agent flags, parsed by the agent\'s own config loader', () => {
    const known = new Set(FLAGS.map((f) => f.name));
    for (const a of c.args.slice(1) as string[]) expect(known.has(/^--([a-z-]+)/.exec(a)?.[1] ?? ''), a).toBe(true);
    const cfg = loadConfig(c.args as string[], {});
    expect(cfg.command).toBe('serve');
    expect(cfg.hostRoot).toBe('/host');
    expect(cfg.procRoot).toBe('/proc');
    expect(cfg.listen).toEqual({ host: '0.0.0.0', port: DEFAULT_PORT });
  });

  it('port http is the agent\'s default port; liveness /healthz, readiness /readyz on it', () => {
    expect(c.ports).toEqual([{ name: 'http', containerPort: DEFAULT_PORT, protocol: 'TCP' }]);
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
  });

  it('image tag and app.kubernetes.io/version are the package version', () => {
    const v = packageVersion();
    expect(c.image).toBe(`chaos-node-agent:${v}`);
    for (const o of [ds, svc, sa, ds.spec.template, role, binding]) expect(o.metadata.labels['app.kubernetes.io/version']).toBe(v);
  });

  it('recommended labels everywhere; selectors match the pod template', () => {
    const tpl = ds.spec.template.metadata.labels as Record<string, string>;
    for (const o of [ds.metadata.labels, tpl, svc.metadata.labels, sa.metadata.labels, role.metadata.labels, binding.metadata.labels]) for (const k of RECOMMENDED) expect(o[k], k).toBeTruthy();
    for (const [k, v] of Object.entries(ds.spec.selector.matchLabels)) expect(tpl[k]).toBe(v);
    for (const [k, v] of Object.entries(svc.spec.selector)) expect(tpl[k]).toBe(v);
  });

  it('headless Service with the prometheus.io annotations on port http', () => {
    expect(svc.spec.clusterIP).toBe('None');
    expect(svc.spec.ports).toEqual([{ name: 'http', port: DEFAULT_PORT, targetPort: 'http', protocol: 'TCP' }]);
    expect(svc.metadata.annotations).toEqual({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': String(DEFAULT_PORT),
      'prometheus.io/path': '/metrics',
    });
  });
});

describe('/debug/* protection', () => {
  const vols = new Map((pod.volumes as Obj[]).map((v) => [v.name, v]));

  it('the agent reads its debug token from an optional Secret, mounted as a directory so rotations reach it', () => {
    const cfg = loadConfig(c.args as string[], {});
    expect([cfg.debug, cfg.debugInsecure]).toEqual([true, false]);
    const mount = (c.volumeMounts as Obj[]).find((m) => cfg.debugTokenFile!.startsWith(`${m.mountPath}/`))!;
    expect(mount).toMatchObject({ readOnly: true });
    expect(mount.subPath).toBeUndefined();
    const vol = vols.get(mount.name)!;
    expect(vol.secret).toEqual({
      secretName: 'chaos-node-agent-debug-token', optional: true, defaultMode: 0o400,
      items: [{ key: 'token', path: cfg.debugTokenFile!.slice(mount.mountPath.length + 1) }],
    });
  });

  it('the NetworkPolicy selects the agent pods and lets only the monitoring namespace reach the agent port', () => {
    expect(netpol.metadata.namespace).toBe(ns.metadata.name);
    const tpl = ds.spec.template.metadata.labels as Record<string, string>;
    for (const [k, v] of Object.entries(netpol.spec.podSelector.matchLabels)) expect(tpl[k], k).toBe(v);
    expect(netpol.spec.policyTypes).toEqual(['Ingress']);
    expect(netpol.spec.ingress).toEqual([{
      from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
      ports: [{ protocol: 'TCP', port: c.ports[0].containerPort }],
    }]);
    expect(c.ports[0].containerPort).toBe(DEFAULT_PORT);
  });
});

describe('ServiceMonitor', () => {
  it('selects the Service in its namespace, scrapes port http, keeps the agent\'s labels, adds node', () => {
    for (const [k, v] of Object.entries(sm.spec.selector.matchLabels)) expect(svc.metadata.labels[k]).toBe(v);
    expect(sm.spec.namespaceSelector.matchNames).toEqual([svc.metadata.namespace]);
    const ep = sm.spec.endpoints[0];
    expect(ep.port).toBe('http');
    expect(ep.path).toBe('/metrics');
    expect(ep.honorLabels).toBe(true);
    expect(ep.relabelings).toContainEqual({ action: 'replace', sourceLabels: ['__meta_kubernetes_pod_node_name'], targetLabel: 'node' });
  });

  it('job label = the Service\'s app.kubernetes.io/name, which ChaosNodeAgentDown selects', () => {
    const job = svc.metadata.labels[sm.spec.jobLabel];
    expect(job).toBe('chaos-node-agent');
    expect(alerts.find((a) => a.alert === 'ChaosNodeAgentDown')!.expr.trim()).toBe(`up{job="${job}"} == 0`);
  });
});

describe('PrometheusRule', () => {
  it('has the alerts of issues 6 and 12, and the blocked root and command-line reads', () => {
    expect(alerts.map((a) => a.alert)).toEqual([
      'ChaosInjectionLeftover', 'ChaosInjectionDrift', 'ChaosInjectionLongRunning', 'ChaosNodeAgentNoRuntime', 'ChaosNodeAgentRuntimeDown',
      'ChaosNodeAgentCollectorFailing', 'ChaosNodeAgentRootReadBlocked', 'ChaosNodeAgentCmdlineReadBlocked', 'ChaosNodeAgentCollectionStale',
      'ChaosNodeAgentDown',
    ]);
  });

  it('the leftover alert needs no age: a leftover that changes traffic; the age heuristic only where the intent is not read', () => {
    const leftover = alerts.find((x) => x.alert === 'ChaosInjectionLeftover')!;
    expect(leftover.expr.trim()).toBe('max by (node, namespace, pod, kind) (chaos_daemon_injection_drift{state="leftover"}) > 0');
    const drift = alerts.find((x) => x.alert === 'ChaosInjectionDrift')!;
    expect(drift.expr).toContain('chaos_daemon_injection_drift{state=~"missing|mismatch|failed"}');
    const age = alerts.find((x) => x.alert === 'ChaosInjectionLongRunning')!;
    expect(age.expr).toMatch(/\(time\(\) - chaos_daemon_injection_first_seen_timestamp_seconds\) > 3600\s+and on \(node, namespace, pod, kind\)\s+chaos_daemon_injection_active == 1/);
    expect(age.expr).toMatch(/unless on \(node\)\s+chaos_daemon_kube_up/);
  });

  it('every alert has a duration, a severity and annotations naming the node and the pod', () => {
    for (const a of alerts) {
      expect(a.for, a.alert).toMatch(/^\d+[smh]$/);
      expect(['warning', 'critical'], a.alert).toContain(a.labels.severity);
      for (const key of ['summary', 'description']) {
        const text = String(a.annotations[key]);
        for (const l of ['node', 'namespace', 'pod']) expect(text, `${a.alert} ${key}`).toContain(`{{ $labels.${l} }}`);
        expect(text.split('{{').length, `${a.alert} ${key} braces`).toBe(text.split('}}').length);
      }
    }
  });
});

describe('Grafana dashboard', () => {
  const queries: Array<{ title: string; expr: string }> = (dash.panels as Obj[]).flatMap((p) =>
    ((p.targets ?? []) as Obj[]).map((t) => ({ title: p.title as string, expr: t.expr as string })),
  );

  it('is a dashboard with a uid, a Prometheus datasource variable and node/namespace/pod variables', () => {
    expect(dash.uid).toBe('chaos-node-agent');
    const vars = dash.templating.list as Obj[];
    expect(vars.map((v) => v.name)).toEqual(['datasource', 'node', 'namespace', 'pod']);
    expect(vars[0]).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const v of vars.slice(1)) {
      expect(v).toMatchObject({ type: 'query', includeAll: true, multi: true, datasource: { uid: '${datasource}' } });
      expect(labelValuesQuery(v.query.query).label).toBe(v.name);
    }
  });

  it('every panel query uses the datasource variable and filters by $node', () => {
    expect(queries.length).toBeGreaterThanOrEqual(20);
    for (const q of queries) expect(q.expr, q.title).toContain('node=~"$node"');
    for (const p of dash.panels as Obj[]) if (p.type !== 'row') expect(p.datasource.uid, p.title).toBe('${datasource}');
  });

  it('panels are laid out on the 24-column grid with unique ids', () => {
    const ids = (dash.panels as Obj[]).map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dash.panels as Obj[]) expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
  });

  it('shows what issue 6 asks for', () => {
    const has = (re: RegExp) => queries.filter((q) => re.test(q.expr)).map((q) => q.title);
    expect(has(/count by \(kind\) \(max by \(node, namespace, pod, kind\) \(chaos_daemon_injection_active/)).toEqual(['Pods with an active injection, by kind']);
    expect(has(/time\(\) - chaos_daemon_injection_first_seen_timestamp_seconds/)).toEqual(['Injection age', 'Process and mount faults']);
    expect(has(/chaos_daemon_netem_delay_seconds|chaos_daemon_netem_loss_ratio|chaos_daemon_tbf_rate_bytes_per_second/)).toEqual(['netem delay', 'netem loss', 'tbf rate']);
    expect(has(/rate\(chaos_daemon_qdisc_(drops|overlimits)_total/)).toEqual(['qdisc drops', 'qdisc overlimits']);
    expect(has(/chaos_daemon_iptables_packets\{[^}]*chain=~"CHAOS-\.\*\|INPUT\/\.\*\|OUTPUT\/\.\*/)).toEqual(['Packets dropped by chaos chains']);
    expect(has(/chaos_daemon_runtime_up/)).toEqual(['Runtime up']);
    expect(has(/histogram_quantile\(0\.99, sum by \(le, runtime, method\) \(rate\(chaos_daemon_runtime_request_duration_seconds_bucket/)).toEqual(['CRI / Docker request latency']);
    expect(has(/chaos_daemon_collection_duration_seconds/)).toEqual(['Collection duration']);
    expect(has(/chaos_daemon_scrape_collector_success|chaos_daemon_netns_errors_total/)).toEqual(['Collection errors', 'Collection errors']);
  });

  it('shows what issue 11 asks for: the kinds that are processes and mounts, and chaos-daemon\'s bpm count', () => {
    const has = (re: RegExp) => queries.filter((q) => re.test(q.expr)).map((q) => q.title);
    expect(has(/chaos_daemon_injection_active\{[^}]*kind=~"io\|stress\|jvm\|http"/)).toEqual(['Process and mount faults']);
    expect(has(/^chaos_daemon_bpm_controlled_processes\{/)).toEqual(["chaos-daemon's background processes (bpm)"]);
  });

  it('shows what issue 12 asks for: drift, owners, the Kubernetes API source', () => {
    const has = (re: RegExp) => queries.filter((q) => re.test(q.expr)).map((q) => q.title);
    expect(has(/chaos_daemon_injection_drift/)).toEqual(['Drift: intent against kernel']);
    expect(has(/count by \(experiment, kind\) \(chaos_daemon_injection_active/)).toEqual(['Active injections by owning experiment']);
    expect(has(/chaos_daemon_kube_up|chaos_daemon_kube_sync_age_seconds/)).toEqual(['Kubernetes API source up', 'Intent age']);
    // injection_active has one series per owning experiment: joins with it name the labels they match on.
    expect(has(/and chaos_daemon_injection_active/)).toEqual([]);
  });
});

describe('Grafana dashboard ConfigMap', () => {
  it('is labelled grafana_dashboard: "1" and embeds the dashboard JSON byte for byte', () => {
    expect(cm.metadata.labels.grafana_dashboard).toBe('1');
    expect(Object.keys(cm.data)).toEqual(['chaos-node-agent.json']);
    expect(cm.data['chaos-node-agent.json']).toBe(dashText);
  });

  it('scripts/gen-dashboard-configmap.mjs --check agrees', () => {
    const out = execFileSync(process.execPath, ['scripts/gen-dashboard-configmap.mjs', '--check'], { cwd: REPO, encoding: 'utf8', timeout: 10_000 });
    expect(out).toBe('deploy/grafana-dashboard-configmap.yaml is up to date\n');
  });
});

describe('Dockerfile', () => {
  const df = repoText('Dockerfile');
  const froms = [...df.matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gim)].map((m) => [m[1], m[2] ?? null]);

  it('multi-stage on a Node LTS bookworm-slim base: build (npm ci, tsc, bundle), production deps, runtime', () => {
    expect(df).toMatch(/^ARG NODE_IMAGE=node:(20|22)-bookworm-slim$/m);
    expect(froms).toEqual([['${NODE_IMAGE}', 'build'], ['${NODE_IMAGE}', 'prod-deps'], ['${NODE_IMAGE}', null]]);
    expect(df).toMatch(/RUN npm ci --no-audit --no-fund\n/);
    expect(df).toMatch(/RUN npx tsc -p tsconfig\.json/);
    expect(df).toMatch(/RUN npm ci --omit=dev /);
    expect(df).toMatch(/COPY --from=prod-deps \/app\/node_modules/);
    expect(df).toMatch(/COPY --from=build \/src\/dist\/agent/);
    // The CLI bundle (rolldown.config.mjs) next to tsc's output: the launcher runs it when it is as new; its V8 code
    // cache made in the build stage (scripts/code-cache.mjs needs bin/: the hook and the shipped flags).
    expect(df).toMatch(/COPY bin \.\/bin\nCOPY scripts\/code-cache\.mjs \.\/scripts\/\n/);
    expect(df).toMatch(/RUN npx tsc -p tsconfig\.json && npx rolldown -c rolldown\.config\.mjs && node scripts\/code-cache\.mjs\n/);
    expect(df).toMatch(/COPY --from=build \/src\/dist\/bundle \.\/dist\/bundle\n/);
  });

  it('installs both iptables backends, ipset, iproute2, util-linux, nftables (nft list tables) without recommends, non-interactively', () => {
    expect(df).toMatch(/DEBIAN_FRONTEND=noninteractive/);
    expect(df).toMatch(/apt-get install -y --no-install-recommends iptables ipset iproute2 util-linux nftables/);
    expect(df).toMatch(/rm -rf \/var\/lib\/apt\/lists\/\*/);
  });

  it('OCI labels, the agent as entrypoint, serve by default', () => {
    for (const l of ['title', 'description', 'version', 'revision', 'licenses']) expect(df).toContain(`org.opencontainers.image.${l}=`);
    expect(df).toMatch(/^ENTRYPOINT \["node", "--max-semi-space-size=1", "--max-old-space-size=256", "--no-memory-reducer", "--single-threaded-gc", "\/app\/bin\/chaos-node-agent\.js"\]$/m);
    expect(df).toMatch(/^CMD \["serve"\]$/m);
  });

  it('.dockerignore keeps node_modules, dist and .git out of the context', () => {
    const ignored = repoText('.dockerignore').split('\n').map((l) => l.trim());
    for (const p of ['node_modules', 'dist', '.git', 'test']) expect(ignored).toContain(p);
  });
});
