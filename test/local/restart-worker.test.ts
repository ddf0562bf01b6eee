import { once } from 'node:events';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningLocalStack, startLocalStack } from '../../local/stack';
import { pngBytes } from '../../simulator/fixtures';
import { apiClient } from '../e2e/support';

/**
 * `stack.restartWorker()` as the soak benchmark uses it: the crashed worker's batch is not deleted, comes
 * back after the generate queue's visibility timeout to the fresh worker, and the task is still submitted
 * upstream once, charged once, and completed.
 */
describe('local stack: worker restart', () => {
  let stack: RunningLocalStack;
  // The task's image is held until its request has come twice: the crashed worker's, then the fresh one's.
  const held: ServerResponse[] = [];
  const images = createServer((_req, res) => {
    held.push(res);
    if (held.length >= 2) {
      for (const r of held.splice(0)) r.writeHead(200, { 'content-type': 'image/png' }).end(pngBytes(2, 1));
    }
  });

  beforeAll(async () => {
    images.listen(0, '127.0.0.1');
    await once(images, 'listening');
    stack = await startLocalStack({
      port: 0,
      simulatorLatencyMs: 200,
      visibilityTimeoutSeconds: { generate: 2 },
      environment: { RATE_LIMIT: 'off' },
    });
  });
  afterAll(async () => {
    await stack?.stop();
    images.closeAllConnections();
    images.close();
  });

  it('redelivers the batch a crashed worker held to a fresh worker; the task is submitted once', async () => {
    const api = apiClient(stack);
    const before = await api.credit();
    let imageRequests = 0;
    images.on('request', () => imageRequests++);
    const taskId = await api.generate({
      prompt: 'restart me',
      imageUrls: [`http://127.0.0.1:${(images.address() as AddressInfo).port}/a.png`],
    });

    // The worker has the message and waits for the image: crash it there.
    const deadline = Date.now() + 20_000;
    while (imageRequests < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(imageRequests).toBe(1);
    expect(await stack.restartWorker()).toBe(1);

    const record = await api.waitForRecord(taskId, (d) => d.successFlag !== 0, 45_000);
    expect(record.successFlag).toBe(1);
    // Both workers fetched the image (the message was redelivered), one of them submitted it.
    expect(imageRequests).toBe(2);
    expect(stack.simulator.generations().filter((g) => g.prompt === 'restart me')).toHaveLength(1);
    expect(before - (await api.credit())).toBe(record.creditsConsumed);
  });
});
