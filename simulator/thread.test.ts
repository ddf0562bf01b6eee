import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import type { Simulator } from './server';
import { startSimulatorThread, waitForFlag } from './thread';

const running: Simulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

const kieSubmit = (sim: Simulator, prompt: string) =>
  fetch(`${sim.url}/api/v1/veo/generate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer k' },
    body: JSON.stringify({ prompt }),
  });

describe('a simulator on a thread of its own', () => {
  it('answers the Simulator interface synchronously, as one in process does', async () => {
    const sim = await startSimulatorThread({
      latencyMs: 100,
      kieApiKey: 'k',
      quota: { kie: { limit: 1, windowMs: 60_000 } },
    });
    running.push(sim);
    expect((await kieSubmit(sim, 'first')).status).toBe(200);
    // What the thread saw is read back at once: its generations, stats and request log.
    expect(sim.generations().map((g) => g.prompt)).toEqual(['first']);
    expect(sim.stats.submits).toBe(1);
    expect(sim.requests.map((r) => [r.shape, r.kind])).toEqual([['kie', 'submit']]);
    // Its quota is counted on its own clock: the second submit in the window is refused.
    expect((await kieSubmit(sim, 'second')).status).toBe(429);
    expect(sim.stats.refused.quota).toBe(1);

    // A fault injected, an outage begun and a push mode set are in place before the next request.
    sim.injectFault({ shape: 'kie', kind: 'submit', status: 503 });
    expect((await kieSubmit(sim, 'third')).status).toBeGreaterThanOrEqual(500);
    expect(sim.stats.refused['server-error']).toBe(1);
    sim.down();
    expect(sim.isDown).toBe(true);
    expect((await fetch(`${sim.url}/_simulator/state`).then((r) => r.json())) as unknown).toEqual({
      down: true,
    });
    sim.up();
    expect(sim.isDown).toBe(false);
    sim.pushes = 'hold';
    expect(sim.pushes).toBe('hold');
  });

  it('answers calls made back to back, each with its own answer', async () => {
    const sim = await startSimulatorThread({});
    running.push(sim);
    // A previous answer's late wake-up must not end the next call's wait before its answer is there.
    for (let i = 0; i < 1_000; i++) {
      if (i % 2) sim.down();
      else sim.up();
      expect(sim.isDown).toBe(i % 2 === 1);
    }
  });

  it('waits for the answer flag, not for any notify (a late one from the previous answer)', async () => {
    const flag = new Int32Array(new SharedArrayBuffer(4));
    // A thread that notifies without setting the flag, as a previous answer's late notify does, then sets it.
    const notifier = new Worker(
      `const { workerData: flag } = require('node:worker_threads');
       const until = Date.now() + 200;
       while (Date.now() < until) Atomics.notify(flag, 0);
       Atomics.store(flag, 0, 1);
       Atomics.notify(flag, 0);`,
      { eval: true, workerData: flag },
    );
    const started = performance.now();
    expect(waitForFlag(flag, 5_000)).toBe(true);
    expect(Atomics.load(flag, 0)).toBe(1);
    expect(performance.now() - started).toBeGreaterThanOrEqual(150);
    await notifier.terminate();
    Atomics.store(flag, 0, 0);
    expect(waitForFlag(flag, 50)).toBe(false);
  });

  it('stops: its port closes', async () => {
    const sim = await startSimulatorThread({});
    await sim.stop();
    await expect(fetch(`${sim.url}/_simulator/state`)).rejects.toThrow();
  });
});
