/** V8 flags the agent ships with (see node-flags.js). */
export declare const NODE_FLAGS: readonly string[];
