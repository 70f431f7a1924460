/** V8 flags the agent ships with (see node-flags.js). */
export declare const NODE_FLAGS: readonly string[];
/** Environment (glibc malloc tunables) the image and the DaemonSet give the agent (see node-flags.js). */
export declare const MALLOC_ENV: Readonly<Record<string, string>>;
