/**
 * The agent's collection in a process of its own, driven by the bench over stdin/stdout (one JSON line per
 * request): `collect` -> {ok, sample} (bench/agent.ts AgentSample + rssBytes), `exit` -> close and exit.
 * Started by AgentProcess with the CRI endpoint, then agent flags (e.g. --reader nsenter); imports only the agent's
 * modules.
 */
import { createInterface } from 'node:readline';
import { errorMessage } from '../agent/errors.js';
import { normaliseEndpoint } from '../agent/config.js';
import { InProcessAgent } from './agent.js';
import { processMemory } from './measure.js';

const endpoint = normaliseEndpoint('endpoint', process.argv[2] ?? '');
const LOOP_FLAG = '--bench-loop-blocks';
const flags = process.argv.slice(3);
const agent = new InProcessAgent(endpoint, flags.filter((f) => f !== LOOP_FLAG), { loopBlocks: flags.includes(LOOP_FLAG) });
const rl = createInterface({ input: process.stdin });
let queue: Promise<void> = Promise.resolve();

rl.on('line', (line) => {
  queue = queue.then(async () => {
    const cmd = line.trim();
    if (cmd === 'exit') {
      agent.close();
      rl.close();
      return;
    }
    if (cmd !== 'collect') {
      process.stdout.write(JSON.stringify({ ok: false, error: `unknown command ${JSON.stringify(cmd.slice(0, 40))}` }) + '\n');
      return;
    }
    try {
      const sample = await agent.collectOnce();
      const { rssBytes } = await processMemory(process.pid);
      process.stdout.write(JSON.stringify({ ok: true, sample: { ...sample, rssBytes } }) + '\n');
    } catch (err) {
      process.stdout.write(JSON.stringify({ ok: false, error: errorMessage(err) }) + '\n');
    }
  });
});
rl.on('close', () => {
  agent.close();
});
