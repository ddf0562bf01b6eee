import { describe, expect, it } from 'vitest';
import {
  RecordingLog,
  RecordingTaskQueues,
  ScriptedProvider,
} from '../../../test/support/in-memory-adapters';
import { acceptPush, pushedOperation, pushedTask } from './push';

/** A provider that pushes: a push verifies when it names `operations/ok` and carries the header `sig: ok`. */
class PushingProvider extends ScriptedProvider {
  async verifyPush(operation: string, headers: Record<string, string | undefined>): Promise<boolean> {
    return operation === 'operations/ok' && headers.sig === 'ok';
  }
}

function world(provider = new PushingProvider()) {
  return { provider, queues: new RecordingTaskQueues(), log: new RecordingLog() };
}

describe('acceptPush', () => {
  it('queues one immediate poll for a verified push, and nothing else', async () => {
    const deps = world();
    expect(await acceptPush(deps, 'veo_task1', 'operations/ok', { sig: 'ok' })).toBe(true);
    expect(deps.queues.polled).toEqual([{ message: { taskId: 'veo_task1', pushed: true }, delaySeconds: 0 }]);
  });

  it.each([
    ['a bad signature', 'operations/ok', { sig: 'forged' }],
    ['no operation in the body', undefined, { sig: 'ok' }],
    ['another operation than the one signed', 'operations/other', { sig: 'ok' }],
  ])('refuses %s without queueing anything', async (_, operation, headers) => {
    const deps = world();
    expect(await acceptPush(deps, 'veo_task1', operation, headers)).toBe(false);
    expect(deps.queues.polled).toEqual([]);
    expect(deps.log.lines.map((l) => l.message)).toContain('upstream push refused');
  });

  it('asks a provider that verifies on the headers alone (Gemini webhooks) about a push naming no operation', async () => {
    /** Like the Gemini API's event: signed in its headers, naming no operation of ours. */
    class HeaderSignedProvider extends ScriptedProvider {
      async verifyPush(operation: string, headers: Record<string, string | undefined>): Promise<boolean> {
        return operation === '' && headers['webhook-signature'] === 'genuine';
      }
    }
    const deps = { ...world(), provider: new HeaderSignedProvider() };
    expect(await acceptPush(deps, 'veo_task2', undefined, { 'webhook-signature': 'genuine' })).toBe(true);
    expect(await acceptPush(deps, 'veo_task3', undefined, { 'webhook-signature': 'forged' })).toBe(false);
    expect(deps.queues.polled).toEqual([{ message: { taskId: 'veo_task2', pushed: true }, delaySeconds: 0 }]);
  });

  it('refuses every push for a provider that does not push', async () => {
    const deps = { ...world(), provider: new ScriptedProvider() };
    expect(await acceptPush(deps, 'veo_task1', 'operations/ok', { sig: 'ok' })).toBe(false);
    expect(deps.queues.polled).toEqual([]);
  });
});

describe('pushedOperation', () => {
  it("reads kie's data.taskId and nothing else", () => {
    expect(pushedOperation({ code: 200, data: { taskId: 'kie-1', info: {} } })).toBe('kie-1');
    expect(pushedOperation({ code: 200, data: {} })).toBeUndefined();
    expect(pushedOperation(undefined)).toBeUndefined();
    expect(pushedOperation({ data: { taskId: '' } })).toBeUndefined();
  });
});

describe('pushedTask', () => {
  /** Like Vertex AI's: the body (a bucket's notification) names the task, our URL does not. */
  class BodyNamingProvider extends ScriptedProvider {
    pushedTask(body: unknown): string | undefined {
      const object = (body as { object?: unknown } | undefined)?.object;
      return typeof object === 'string' ? object.split('/')[0] : undefined;
    }
  }

  it("takes our URL's task first, else the one a provider of the pool reads in the body", () => {
    const named = new BodyNamingProvider();
    const deps = { ...world(), upstreamProviders: { kie: new PushingProvider(), vertex: named } };
    expect(pushedTask(deps, 'veo_url', { object: 'veo_body/x.mp4' })).toBe('veo_url');
    expect(pushedTask(deps, undefined, { object: 'veo_body/x.mp4' })).toBe('veo_body');
    expect(pushedTask(deps, undefined, { data: { taskId: 'kie-1' } })).toBeUndefined();
    expect(pushedTask(world(), undefined, { object: 'veo_body/x.mp4' })).toBeUndefined();
  });
});
