import { createHmac } from 'node:crypto';
import type { Deps } from './deps';
import type { NotifyMessage } from './ports';
import { type SignedResults, signResults, toRecord } from './record-info';
import { isFinal, type Task } from './task';
import { refuseUrl, UrlRefusedError } from './url-guard';

/** kie.ai's signature: base64(HMAC-SHA256(webhook secret, `${taskId}.${timestamp}`)). */
export function signCallback(secret: string, taskId: string, timestamp: number): string {
  return createHmac('sha256', secret).update(`${taskId}.${timestamp}`).digest('base64');
}

/** The kie-shaped callback body (SPEC §3). */
export function callbackBody(task: Task, signed: SignedResults) {
  const record = toRecord(task, signed);
  if (record.successFlag === 1) {
    return {
      code: 200,
      msg: 'Veo3.1 video generated successfully.',
      data: {
        taskId: task.taskId,
        info: {
          resultUrls: record.response?.resultUrls ?? [],
          originUrls: record.response?.originUrls ?? [],
          resolution: record.response?.resolution ?? '720p',
        },
        fallbackFlag: false,
      },
    };
  }
  return {
    code: record.errorCode ?? 501,
    msg: record.errorMessage ?? 'Generation failed',
    data: { taskId: task.taskId, fallbackFlag: false },
  };
}

export class CallbackFailedError extends Error {
  override name = 'CallbackFailedError';
}

/**
 * Notifier: POST the signed callback once. Throws when the receiver did not take it (non-2xx, timeout,
 * connection error) so the notify queue delivers it again later; every attempt is recorded on the task.
 */
export async function deliverCallback(deps: Deps, { taskId }: NotifyMessage): Promise<void> {
  const task = await deps.tasks.get(taskId);
  const url = task?.request.callBackUrl;
  if (!task || !url || !isFinal(task.status)) return;

  const refused = refuseUrl(url, deps.settings.urlPolicy);
  if (refused) {
    await deps.tasks.recordCallback(taskId, { at: deps.now(), error: `callBackUrl ${refused}` });
    return; // a refused address will not become acceptable by retrying
  }
  const key = await deps.apiKeys.get(task.keyHash);
  if (!key) return;

  const signed = await signResults(deps, task);
  const timestamp = Math.floor(deps.now() / 1000);
  const delivery = {
    url,
    body: JSON.stringify(callbackBody(task, signed)),
    headers: {
      'content-type': 'application/json',
      'x-webhook-timestamp': String(timestamp),
      'x-webhook-signature': signCallback(key.webhookSecret, taskId, timestamp),
    },
  };

  let status: number;
  try {
    status = await deps.callbacks.send(delivery);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    await deps.tasks.recordCallback(taskId, { at: deps.now(), error: message });
    // An address refused after DNS resolution will not become acceptable by retrying.
    if (error instanceof UrlRefusedError) return;
    throw new CallbackFailedError(`callback to the client failed: ${message}`);
  }
  await deps.tasks.recordCallback(taskId, { at: deps.now(), status });
  if (status < 200 || status >= 300) throw new CallbackFailedError(`callback answered HTTP ${status}`);
  deps.log.info('callback delivered', { taskId, status });
}
