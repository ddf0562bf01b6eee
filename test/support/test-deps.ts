import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Deps, Settings } from '../../functions/core/deps';
import { KieError } from '../../functions/core/errors';
import type { ApiKey } from '../../functions/core/ports';
import { taskCredits } from '../../functions/core/pricing';
import { generateRequestSchema } from '../../functions/core/schema';
import { newTask, type Task, type TaskStatus } from '../../functions/core/task';
import {
  AppendingUpscaler,
  AppendingWatermarker,
  IdentityTranslator,
  InMemoryApiKeyStore,
  InMemoryDeadLetterQueues,
  InMemoryVideoStore,
  PassThroughCropper,
  RecordingCallbackSender,
  RecordingEventPublisher,
  RecordingLog,
  RecordingMetrics,
  RecordingTaskQueues,
  RecordingTaskTokens,
  ScriptedProvider,
  StaticImageFetcher,
} from './in-memory-adapters';
import { InMemoryTaskStore } from './in-memory-task-store';

/** Settings as a deployment's defaults would give them, with loopback URLs allowed for tests. */
export const testSettings: Settings = {
  prices: { veo3: 400, veo3_fast: 60 },
  retentionDays: 14,
  budgetSeconds: 600,
  renditionBudgetSeconds: 3600,
  sweepGraceSeconds: 300,
  workerTimeoutSeconds: 60,
  pollerTimeoutSeconds: 300,
  pollIntervalSeconds: 10,
  pushCheckSeconds: 180,
  urlPolicy: { allowLoopback: false, allowHttp: false },
  ffmpegAvailable: true,
  price4k: 120,
  callbackRetrySeconds: [10, 30, 120],
  rateLimit: { limit: 20, windowSeconds: 10 },
  providerName: 'simulator',
  apiKeyCacheSeconds: 30,
};

/** Every port of Deps, in memory, typed as the adapters they are so tests can look inside them. */
export interface TestWorld {
  deps: Deps;
  clock: { now: number };
  tasks: InMemoryTaskStore;
  apiKeys: InMemoryApiKeyStore;
  queues: RecordingTaskQueues;
  deadLetters: InMemoryDeadLetterQueues;
  videos: InMemoryVideoStore;
  provider: ScriptedProvider;
  callbacks: RecordingCallbackSender;
  events: RecordingEventPublisher;
  taskTokens: RecordingTaskTokens;
  upscaler: AppendingUpscaler;
  log: RecordingLog;
  metrics: RecordingMetrics;
}

/** A whole world of in-memory adapters on one clock the test moves (`world.clock.now`). */
export function testWorld(settings: Partial<Settings> = {}): TestWorld {
  // A fixed, recent instant: tasks stay within the retention unless a test moves the clock.
  const clock = { now: Date.UTC(2026, 10, 30, 8, 0, 0) };
  const now = () => clock.now;
  const apiKeys = new InMemoryApiKeyStore();
  const parts = {
    tasks: new InMemoryTaskStore(apiKeys, now),
    apiKeys,
    queues: new RecordingTaskQueues(),
    deadLetters: new InMemoryDeadLetterQueues(),
    videos: new InMemoryVideoStore(),
    provider: new ScriptedProvider(),
    callbacks: new RecordingCallbackSender(),
    events: new RecordingEventPublisher(),
    taskTokens: new RecordingTaskTokens(),
    upscaler: new AppendingUpscaler(),
    log: new RecordingLog(),
    metrics: new RecordingMetrics(),
  };
  const deps: Deps = {
    ...parts,
    images: new StaticImageFetcher(),
    cropper: new PassThroughCropper(),
    translator: new IdentityTranslator(),
    watermarker: new AppendingWatermarker(),
    settings: { ...testSettings, ...settings },
    now,
  };
  return { deps, clock, ...parts };
}

/** Stores a key with `credits` and returns it, as the API's authentication would hand it to a use case. */
export async function addKey(world: TestWorld, credits = 1000, extra: Partial<ApiKey> = {}): Promise<ApiKey> {
  const key: ApiKey = {
    // A SHA-256 in hex, as real key hashes are (task-list cursors check the shape).
    keyHash: createHash('sha256')
      .update(`key-${world.apiKeys.keys.size + 1}`)
      .digest('hex'),
    name: 'test',
    credits,
    webhookSecret: 'whsec_test',
    createdAt: world.clock.now,
    ...extra,
  };
  await world.apiKeys.put(key);
  return key;
}

/** What a use case throws, for assertions on kie errors (the test fails if it did not throw). */
export async function thrown(call: Promise<unknown>): Promise<KieError> {
  try {
    await call;
  } catch (error) {
    if (error instanceof KieError) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

/** A task of `key` written straight into the store (charged), in `status`, created at the world's clock. */
export async function seedTask(
  world: TestWorld,
  key: ApiKey,
  status: TaskStatus = 'queued',
  extra: Partial<Task> & { body?: Record<string, unknown> } = {},
): Promise<Task> {
  const { body = { prompt: 'a cat' }, ...fields } = extra;
  const request = generateRequestSchema(world.deps.settings.urlPolicy).parse(body);
  const created = newTask({
    request,
    paramJson: JSON.stringify(body),
    keyHash: key.keyHash,
    credits: taskCredits(world.deps.settings, {
      model: request.model,
      resolution: request.resolution ?? '720p',
      durationSeconds: request.durationSeconds ?? 8,
      generateAudio: request.generateAudio ?? true,
      sampleCount: request.sampleCount ?? 1,
    }),
    provider: 'simulator',
    now: world.clock.now,
    retentionDays: world.deps.settings.retentionDays,
    budgetSeconds: world.deps.settings.budgetSeconds,
  });
  const video = `videos/${created.taskId}/0.mp4`;
  const task: Task = {
    ...created,
    status,
    // A finished task has its video in the store, as the poller leaves it.
    ...(status === 'succeeded' && {
      completedAt: world.clock.now,
      results: [{ key: video, originKey: video, resolution: '720p' }],
    }),
    ...fields,
  };
  if (status === 'succeeded')
    await world.videos.put(video, Readable.from([Buffer.from('720p')]), 'video/mp4');
  await world.tasks.createCharged(task, { keyHash: key.keyHash, credits: task.credits });
  return task;
}
