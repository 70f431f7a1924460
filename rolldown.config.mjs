// The CLI and the netlink worker as a few CommonJS modules (dist/bundle/), built from tsc's output after `tsc -p
// tsconfig.json` (npm run build). Why: `inspect` loads ~190 of the agent's modules (the netlink decoders alone are
// ~110) and Node's ESM loader spends more CPU resolving, reading and linking them one by one than running them;
// bundled, `inspect NS/POD` costs ~0.1-0.3 s less CPU (bench/cli-start.ts). bin/chaos-node-agent.js runs the bundle
// when it is at least as new as dist/agent/cli.js, else dist/agent/ as before.
// - CommonJS (a package.json {"type":"commonjs"} is written beside the chunks): the launcher compiles them through
//   vm.Script with the V8 code cache scripts/code-cache.mjs makes after this step (bin/code-cache.js); Node 20 has
//   no code cache for ES modules. dynamicImportInCjs false: no import() is left in the bundle (code compiled by
//   vm.Script cannot run one without --experimental-vm-modules); Node >= 20.19 require()s the ESM-only
//   dependencies (execa, @kubernetes/client-node).
// - Dynamic imports stay lazy (their own chunks, required on first use): a command loads only what it uses.
// - npm packages stay external (node_modules as installed; koffi is native).
// - thread-main.js (the pool's threads) and root-worker.js are entries next to the chunks: netlink/pool.ts and proc/root-reader.ts find
//   them beside themselves.
// - keepNames: the agent's errors take their `name` from their class (agent/errors.ts).
const commonjs = {
  name: 'commonjs-package',
  generateBundle() {
    this.emitFile({ type: 'asset', fileName: 'package.json', source: '{ "type": "commonjs" }\n' });
  },
};

export default {
  input: { cli: 'dist/agent/cli.js', 'thread-main': 'dist/agent/netns/netlink/thread-main.js', 'root-worker': 'dist/agent/proc/root-worker.js' },
  platform: 'node',
  external: (id) => !id.startsWith('.') && !id.startsWith('/') && !id.startsWith('\0'),
  plugins: [commonjs],
  output: { dir: 'dist/bundle', format: 'cjs', dynamicImportInCjs: false, entryFileNames: '[name].js', chunkFileNames: '[name]-[hash].js', keepNames: true, cleanDir: true },
};
