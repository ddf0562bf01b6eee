import { afterEach, describe, expect, it } from 'vitest';
import type { Simulator } from './server';
import { startSimulatorThread } from './thread';

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

  it('stops: its port closes', async () => {
    const sim = await startSimulatorThread({});
    await sim.stop();
    await expect(fetch(`${sim.url}/_simulator/state`)).rejects.toThrow();
  });
});
