/**
 * The CRI messages the agent sends and receives, as schema tables (schema.ts) with the field numbers of
 * protos/cri.proto (= kubernetes/cri-api runtime.v1; runtime.v1alpha2 has the same messages and numbers), and the
 * TypeScript shapes they decode to. test/runtime/cri/messages.test.ts checks every table against protos/cri.proto
 * field by field and against protobufjs on the same bytes.
 *
 * Only what the agent calls: Version, ListPodSandbox, PodSandboxStatus, ListContainers, ContainerStatus,
 * ListContainerStats. The pod lifecycle RPCs of the .proto are the test harness's (test/helpers/cri-grpc.ts).
 */
import type { EnumDef, MessageDef } from './schema.js';

// ---------------------------------------------------------------------------------------------------------------
// Shapes (int64/uint64 as decimal strings, enums by name, absent sub-messages null, maps as objects)

export type NamespaceMode = 'POD' | 'CONTAINER' | 'NODE' | 'TARGET';
/**
 * SANDBOX_STATE_UNKNOWN is no CRI name: it is what a PodSandboxState number protos/cri.proto does not name decodes
 * to, so that the runtime layer can say so (PodInfo.stateUnknown) while reporting such a sandbox as NOTREADY.
 */
export type WirePodSandboxState = 'SANDBOX_READY' | 'SANDBOX_NOTREADY' | 'SANDBOX_STATE_UNKNOWN';
export type WireContainerState = 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';

export interface VersionResponse {
  version: string;
  runtime_name: string;
  runtime_version: string;
  runtime_api_version: string;
}
export interface PodSandboxMetadata {
  name: string;
  uid: string;
  namespace: string;
  attempt: number;
}
export interface NamespaceOption {
  network: NamespaceMode;
  pid: NamespaceMode;
  ipc: NamespaceMode;
  target_id: string;
}
export interface PodSandbox {
  id: string;
  metadata: PodSandboxMetadata | null;
  state: WirePodSandboxState;
  created_at: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  runtime_handler: string;
}
export interface ImageSpec {
  image: string;
  annotations: Record<string, string>;
  user_specified_image: string;
  runtime_handler: string;
}
export interface ContainerMetadata {
  name: string;
  attempt: number;
}
export interface ContainerStatus {
  id: string;
  metadata: ContainerMetadata | null;
  state: WireContainerState;
  created_at: string;
  started_at: string;
  finished_at: string;
  exit_code: number;
  image: ImageSpec | null;
  image_ref: string;
  reason: string;
  message: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  log_path: string;
  image_id: string;
}
export interface PodSandboxStatusResponse {
  status: {
    id: string;
    metadata: PodSandboxMetadata | null;
    state: WirePodSandboxState;
    created_at: string;
    network: { ip: string; additional_ips: { ip: string }[] } | null;
    linux: { namespaces: { options: NamespaceOption | null } | null } | null;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    runtime_handler: string;
  } | null;
  info: Record<string, string>;
  containers_statuses: ContainerStatus[];
  timestamp: string;
}
export interface Container {
  id: string;
  pod_sandbox_id: string;
  metadata: ContainerMetadata | null;
  image: ImageSpec | null;
  image_ref: string;
  state: WireContainerState;
  created_at: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  image_id: string;
}
export interface ContainerStatusResponse {
  status: ContainerStatus | null;
  info: Record<string, string>;
}
export interface UInt64Value {
  value: string;
}
export interface ContainerStats {
  attributes: { id: string; metadata: ContainerMetadata | null; labels: Record<string, string>; annotations: Record<string, string> } | null;
  cpu: { timestamp: string; usage_core_nano_seconds: UInt64Value | null; usage_nano_cores: UInt64Value | null } | null;
  memory: {
    timestamp: string;
    working_set_bytes: UInt64Value | null;
    available_bytes: UInt64Value | null;
    usage_bytes: UInt64Value | null;
    rss_bytes: UInt64Value | null;
    page_faults: UInt64Value | null;
    major_page_faults: UInt64Value | null;
  } | null;
}

/** Filters the agent may send (all optional; it sends none today). */
export interface PodSandboxFilter {
  id?: string;
  state?: { state: WirePodSandboxState } | null;
  label_selector?: Record<string, string>;
}
export interface ContainerFilter {
  id?: string;
  state?: { state: WireContainerState } | null;
  pod_sandbox_id?: string;
  label_selector?: Record<string, string>;
}

/** Request and response of every RPC the agent calls (requests are partial: proto3 defaults fill the rest). */
export interface CriMethods {
  Version: [{ version?: string }, VersionResponse];
  ListPodSandbox: [{ filter?: PodSandboxFilter | null }, { items: PodSandbox[] }];
  PodSandboxStatus: [{ pod_sandbox_id: string; verbose?: boolean }, PodSandboxStatusResponse];
  ListContainers: [{ filter?: ContainerFilter | null }, { containers: Container[] }];
  ContainerStatus: [{ container_id: string; verbose?: boolean }, ContainerStatusResponse];
  ListContainerStats: [{ filter?: { id?: string; pod_sandbox_id?: string; label_selector?: Record<string, string> } | null }, { stats: ContainerStats[] }];
}
export type CriMethod = keyof CriMethods;

// ---------------------------------------------------------------------------------------------------------------
// Enums

export const NAMESPACE_MODE: EnumDef = { name: 'NamespaceMode', values: ['POD', 'CONTAINER', 'NODE', 'TARGET'], unknown: 'POD' };
export const POD_SANDBOX_STATE: EnumDef = { name: 'PodSandboxState', values: ['SANDBOX_READY', 'SANDBOX_NOTREADY'], unknown: 'SANDBOX_STATE_UNKNOWN' };
export const CONTAINER_STATE: EnumDef = {
  name: 'ContainerState',
  values: ['CONTAINER_CREATED', 'CONTAINER_RUNNING', 'CONTAINER_EXITED', 'CONTAINER_UNKNOWN'],
  unknown: 'CONTAINER_UNKNOWN',
};

// ---------------------------------------------------------------------------------------------------------------
// Messages (field numbers: protos/cri.proto)

const msg = (name: string, fields: MessageDef['fields']): MessageDef => ({ name, fields });
const m = (d: MessageDef): { message: MessageDef } => ({ message: d });
const e = (d: EnumDef): { enum: EnumDef } => ({ enum: d });

export const VersionRequestDef = msg('VersionRequest', [{ no: 1, name: 'version', type: 'string' }]);
export const VersionResponseDef = msg('VersionResponse', [
  { no: 1, name: 'version', type: 'string' },
  { no: 2, name: 'runtime_name', type: 'string' },
  { no: 3, name: 'runtime_version', type: 'string' },
  { no: 4, name: 'runtime_api_version', type: 'string' },
]);

export const NamespaceOptionDef = msg('NamespaceOption', [
  { no: 1, name: 'network', type: e(NAMESPACE_MODE) },
  { no: 2, name: 'pid', type: e(NAMESPACE_MODE) },
  { no: 3, name: 'ipc', type: e(NAMESPACE_MODE) },
  { no: 4, name: 'target_id', type: 'string' },
]);
export const ImageSpecDef = msg('ImageSpec', [
  { no: 1, name: 'image', type: 'string' },
  { no: 2, name: 'annotations', type: 'map' },
  { no: 18, name: 'user_specified_image', type: 'string' },
  { no: 19, name: 'runtime_handler', type: 'string' },
]);
export const UInt64ValueDef = msg('UInt64Value', [{ no: 1, name: 'value', type: 'uint64' }]);

export const PodSandboxMetadataDef = msg('PodSandboxMetadata', [
  { no: 1, name: 'name', type: 'string' },
  { no: 2, name: 'uid', type: 'string' },
  { no: 3, name: 'namespace', type: 'string' },
  { no: 4, name: 'attempt', type: 'uint32' },
]);
export const PodSandboxStateValueDef = msg('PodSandboxStateValue', [{ no: 1, name: 'state', type: e(POD_SANDBOX_STATE) }]);
export const PodSandboxFilterDef = msg('PodSandboxFilter', [
  { no: 1, name: 'id', type: 'string' },
  { no: 2, name: 'state', type: m(PodSandboxStateValueDef) },
  { no: 3, name: 'label_selector', type: 'map' },
]);
export const ListPodSandboxRequestDef = msg('ListPodSandboxRequest', [{ no: 1, name: 'filter', type: m(PodSandboxFilterDef) }]);
export const PodSandboxDef = msg('PodSandbox', [
  { no: 1, name: 'id', type: 'string' },
  { no: 2, name: 'metadata', type: m(PodSandboxMetadataDef) },
  { no: 3, name: 'state', type: e(POD_SANDBOX_STATE) },
  { no: 4, name: 'created_at', type: 'int64' },
  { no: 5, name: 'labels', type: 'map' },
  { no: 6, name: 'annotations', type: 'map' },
  { no: 7, name: 'runtime_handler', type: 'string' },
]);
export const ListPodSandboxResponseDef = msg('ListPodSandboxResponse', [{ no: 1, name: 'items', type: m(PodSandboxDef), repeated: true }]);

export const PodSandboxStatusRequestDef = msg('PodSandboxStatusRequest', [
  { no: 1, name: 'pod_sandbox_id', type: 'string' },
  { no: 2, name: 'verbose', type: 'bool' },
]);
export const PodIPDef = msg('PodIP', [{ no: 1, name: 'ip', type: 'string' }]);
export const PodSandboxNetworkStatusDef = msg('PodSandboxNetworkStatus', [
  { no: 1, name: 'ip', type: 'string' },
  { no: 2, name: 'additional_ips', type: m(PodIPDef), repeated: true },
]);
export const NamespaceDef = msg('Namespace', [{ no: 2, name: 'options', type: m(NamespaceOptionDef) }]);
export const LinuxPodSandboxStatusDef = msg('LinuxPodSandboxStatus', [{ no: 1, name: 'namespaces', type: m(NamespaceDef) }]);
export const PodSandboxStatusDef = msg('PodSandboxStatus', [
  { no: 1, name: 'id', type: 'string' },
  { no: 2, name: 'metadata', type: m(PodSandboxMetadataDef) },
  { no: 3, name: 'state', type: e(POD_SANDBOX_STATE) },
  { no: 4, name: 'created_at', type: 'int64' },
  { no: 5, name: 'network', type: m(PodSandboxNetworkStatusDef) },
  { no: 6, name: 'linux', type: m(LinuxPodSandboxStatusDef) },
  { no: 7, name: 'labels', type: 'map' },
  { no: 8, name: 'annotations', type: 'map' },
  { no: 9, name: 'runtime_handler', type: 'string' },
]);

export const ContainerMetadataDef = msg('ContainerMetadata', [
  { no: 1, name: 'name', type: 'string' },
  { no: 2, name: 'attempt', type: 'uint32' },
]);
export const ContainerStatusDef = msg('ContainerStatus', [
  { no: 1, name: 'id', type: 'string' },
  { no: 2, name: 'metadata', type: m(ContainerMetadataDef) },
  { no: 3, name: 'state', type: e(CONTAINER_STATE) },
  { no: 4, name: 'created_at', type: 'int64' },
  { no: 5, name: 'started_at', type: 'int64' },
  { no: 6, name: 'finished_at', type: 'int64' },
  { no: 7, name: 'exit_code', type: 'int32' },
  { no: 8, name: 'image', type: m(ImageSpecDef) },
  { no: 9, name: 'image_ref', type: 'string' },
  { no: 10, name: 'reason', type: 'string' },
  { no: 11, name: 'message', type: 'string' },
  { no: 12, name: 'labels', type: 'map' },
  { no: 13, name: 'annotations', type: 'map' },
  { no: 15, name: 'log_path', type: 'string' },
  { no: 17, name: 'image_id', type: 'string' },
]);
export const PodSandboxStatusResponseDef = msg('PodSandboxStatusResponse', [
  { no: 1, name: 'status', type: m(PodSandboxStatusDef) },
  { no: 2, name: 'info', type: 'map' },
  { no: 3, name: 'containers_statuses', type: m(ContainerStatusDef), repeated: true },
  { no: 4, name: 'timestamp', type: 'int64' },
]);

export const ContainerStateValueDef = msg('ContainerStateValue', [{ no: 1, name: 'state', type: e(CONTAINER_STATE) }]);
export const ContainerFilterDef = msg('ContainerFilter', [
  { no: 1, name: 'id', type: 'string' },
  { no: 2, name: 'state', type: m(ContainerStateValueDef) },
  { no: 3, name: 'pod_sandbox_id', type: 'string' },
  { no: 4, name: 'label_selector', type: 'map' },
]);
export const ListContainersRequestDef = msg('ListContainersRequest', [{ no: 1, name: 'filter', type: m(ContainerFilterDef) }]);
export const ContainerDef = msg('Container', [
  { no: 1, name: 'id', type: 'string' },
  { no: 2, name: 'pod_sandbox_id', type: 'string' },
  { no: 3, name: 'metadata', type: m(ContainerMetadataDef) },
  { no: 4, name: 'image', type: m(ImageSpecDef) },
  { no: 5, name: 'image_ref', type: 'string' },
  { no: 6, name: 'state', type: e(CONTAINER_STATE) },
  { no: 7, name: 'created_at', type: 'int64' },
  { no: 8, name: 'labels', type: 'map' },
  { no: 9, name: 'annotations', type: 'map' },
  { no: 10, name: 'image_id', type: 'string' },
]);
export const ListContainersResponseDef = msg('ListContainersResponse', [{ no: 1, name: 'containers', type: m(ContainerDef), repeated: true }]);

export const ContainerStatusRequestDef = msg('ContainerStatusRequest', [
  { no: 1, name: 'container_id', type: 'string' },
  { no: 2, name: 'verbose', type: 'bool' },
]);
export const ContainerStatusResponseDef = msg('ContainerStatusResponse', [
  { no: 1, name: 'status', type: m(ContainerStatusDef) },
  { no: 2, name: 'info', type: 'map' },
]);

export const ContainerStatsFilterDef = msg('ContainerStatsFilter', [
  { no: 1, name: 'id', type: 'string' },
  { no: 2, name: 'pod_sandbox_id', type: 'string' },
  { no: 3, name: 'label_selector', type: 'map' },
]);
export const ListContainerStatsRequestDef = msg('ListContainerStatsRequest', [{ no: 1, name: 'filter', type: m(ContainerStatsFilterDef) }]);
export const ContainerAttributesDef = msg('ContainerAttributes', [
  { no: 1, name: 'id', type: 'string' },
  { no: 2, name: 'metadata', type: m(ContainerMetadataDef) },
  { no: 3, name: 'labels', type: 'map' },
  { no: 4, name: 'annotations', type: 'map' },
]);
export const CpuUsageDef = msg('CpuUsage', [
  { no: 1, name: 'timestamp', type: 'int64' },
  { no: 2, name: 'usage_core_nano_seconds', type: m(UInt64ValueDef) },
  { no: 3, name: 'usage_nano_cores', type: m(UInt64ValueDef) },
]);
export const MemoryUsageDef = msg('MemoryUsage', [
  { no: 1, name: 'timestamp', type: 'int64' },
  { no: 2, name: 'working_set_bytes', type: m(UInt64ValueDef) },
  { no: 3, name: 'available_bytes', type: m(UInt64ValueDef) },
  { no: 4, name: 'usage_bytes', type: m(UInt64ValueDef) },
  { no: 5, name: 'rss_bytes', type: m(UInt64ValueDef) },
  { no: 6, name: 'page_faults', type: m(UInt64ValueDef) },
  { no: 7, name: 'major_page_faults', type: m(UInt64ValueDef) },
]);
export const ContainerStatsDef = msg('ContainerStats', [
  { no: 1, name: 'attributes', type: m(ContainerAttributesDef) },
  { no: 2, name: 'cpu', type: m(CpuUsageDef) },
  { no: 3, name: 'memory', type: m(MemoryUsageDef) },
]);
export const ListContainerStatsResponseDef = msg('ListContainerStatsResponse', [{ no: 1, name: 'stats', type: m(ContainerStatsDef), repeated: true }]);

/** Request and response messages of each RPC. */
export const CRI_RPCS: Record<CriMethod, { request: MessageDef; response: MessageDef }> = {
  Version: { request: VersionRequestDef, response: VersionResponseDef },
  ListPodSandbox: { request: ListPodSandboxRequestDef, response: ListPodSandboxResponseDef },
  PodSandboxStatus: { request: PodSandboxStatusRequestDef, response: PodSandboxStatusResponseDef },
  ListContainers: { request: ListContainersRequestDef, response: ListContainersResponseDef },
  ContainerStatus: { request: ContainerStatusRequestDef, response: ContainerStatusResponseDef },
  ListContainerStats: { request: ListContainerStatsRequestDef, response: ListContainerStatsResponseDef },
};
