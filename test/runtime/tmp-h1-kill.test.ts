import { it } from 'vitest';
import { startContainerd } from '../helpers/containerd.js';
it('kill then stop', async () => {
  let t = performance.now();
  const h = await startContainerd({ name: 'killstop' });
  process.stderr.write(`start ${(performance.now()-t).toFixed(0)} ms dir ${h.dir} bridge ${h.bridge}\n`);
  t = performance.now();
  const pods = await Promise.all([0,1,2,3].map((i) => h.runPod({ name: `k${i}`, containers: ['a','b'] })));
  process.stderr.write(`4 pods x2 ${(performance.now()-t).toFixed(0)} ms; netns ${pods.map(p=>p.netnsPath).join(' ')}\n`);
  await h.kill();
  t = performance.now();
  await h.stop();
  process.stderr.write(`stop after kill ${(performance.now()-t).toFixed(0)} ms\n`);
});
