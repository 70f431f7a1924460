/**
 * The CRI over @grpc/grpc-js + @grpc/proto-loader on protos/cri.proto, for tests only: the fake CRI-O server's
 * service definition and the client the containerd harness creates pods with (RunPodSandbox, CreateContainer...,
 * which the agent never calls). Being an independent implementation of the same .proto, it also lets the tests
 * check the agent's own codec and HTTP/2 client (agent/runtime/cri/) against grpc-js and protobufjs.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { CriApi } from '../../agent/runtime/cri-client.js';
import type { CriMethods } from '../../agent/runtime/cri/messages.js';

/** Every RPC of protos/cri.proto: the agent's reads plus the pod lifecycle (requests partial, proto3 defaults fill in). */
export interface HarnessCriMethods extends CriMethods {
  RunPodSandbox: [{ config: unknown; runtime_handler?: string }, { pod_sandbox_id: string }];
  StopPodSandbox: [{ pod_sandbox_id: string }, Record<string, never>];
  RemovePodSandbox: [{ pod_sandbox_id: string }, Record<string, never>];
  CreateContainer: [{ pod_sandbox_id: string; config: unknown; sandbox_config: unknown }, { container_id: string }];
  StartContainer: [{ container_id: string }, Record<string, never>];
  StopContainer: [{ container_id: string; timeout?: number }, Record<string, never>];
  RemoveContainer: [{ container_id: string }, Record<string, never>];
}
export type HarnessCriMethod = keyof HarnessCriMethods;

/** proto-loader's options, as the agent used them before its own codec: the shapes the codec must reproduce. */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: String, enums: String, defaults: true, arrays: true, objects: true, oneofs: true };

/** protos/cri.proto, from test/helpers/ (vitest) or dist/test/helpers/ (the benchmark). */
export function criProtoPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, '../../protos/cri.proto'), join(here, '../../../protos/cri.proto')];
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new Error(`protos/cri.proto not found (looked at ${candidates.join(', ')})`);
  return found;
}

let loaded: protoLoader.PackageDefinition | null = null;
const services = new Map<CriApi, grpc.ServiceDefinition>();

/** RuntimeService for one API version; v1alpha2 is v1 with every path renamed (same messages and numbers). */
export function criServiceDefinition(api: CriApi): grpc.ServiceDefinition {
  const cached = services.get(api);
  if (cached) return cached;
  loaded ??= protoLoader.loadSync(criProtoPath(), PROTO_LOADER_OPTIONS);
  const v1 = loaded['runtime.v1.RuntimeService'] as grpc.ServiceDefinition | undefined;
  if (!v1) throw new Error('runtime.v1.RuntimeService missing from protos/cri.proto');
  let def: grpc.ServiceDefinition = v1;
  if (api === 'v1alpha2') {
    def = Object.fromEntries(
      Object.entries(v1).map(([name, m]) => [name, { ...m, path: m.path.replace('/runtime.v1.RuntimeService/', '/runtime.v1alpha2.RuntimeService/') }]),
    );
  }
  services.set(api, def);
  return def;
}

/** A grpc-js CRI client (runtime.v1) with a deadline per call and one reconnect-and-retry on UNAVAILABLE. */
export class GrpcCriClient {
  private client: grpc.Client | null = null;

  constructor(private readonly opts: { socketPath: string; timeoutMs: number }) {}

  async call<M extends HarnessCriMethod>(method: M, request: HarnessCriMethods[M][0], o: { timeoutMs?: number } = {}): Promise<HarnessCriMethods[M][1]> {
    try {
      return await this.once(method, request, o.timeoutMs ?? this.opts.timeoutMs);
    } catch (err) {
      if ((err as grpc.ServiceError).code !== grpc.status.UNAVAILABLE) throw err;
      this.close();
      return await this.once(method, request, o.timeoutMs ?? this.opts.timeoutMs);
    }
  }

  close(): void {
    this.client?.close();
    this.client = null;
  }

  private once<M extends HarnessCriMethod>(method: M, request: HarnessCriMethods[M][0], timeoutMs: number): Promise<HarnessCriMethods[M][1]> {
    const def = criServiceDefinition('v1')[method];
    if (!def) return Promise.reject(new Error(`${method} is not in protos/cri.proto`));
    this.client ??= new grpc.Client(`unix://${this.opts.socketPath}`, grpc.credentials.createInsecure(), {
      'grpc.default_authority': 'localhost',
      'grpc.max_receive_message_length': 16 << 20,
      'grpc.use_local_subchannel_pool': 1,
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 2000,
    });
    const client = this.client;
    return new Promise((resolve, reject) => {
      client.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, request, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, value) => {
        if (err || value === undefined) reject(err ?? new Error(`${method}: empty response`));
        else resolve(value as HarnessCriMethods[M][1]);
      });
    });
  }
}
