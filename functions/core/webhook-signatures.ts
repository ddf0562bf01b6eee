import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The two signatures on every client callback (SPEC §3), for the sender and for receivers. This file
 * imports nothing from the project, so a receiver can copy it as it is.
 *
 * - kie.ai's: `X-Webhook-Timestamp` (unix seconds) and `X-Webhook-Signature` =
 *   base64(HMAC-SHA256(secret string, `${taskId}.${timestamp}`)). It does not cover the body.
 * - Standard Webhooks (https://www.standardwebhooks.com): `webhook-id`, `webhook-timestamp` and
 *   `webhook-signature` = `v1,` + base64(HMAC-SHA256(key, `${id}.${timestamp}.${body}`)), where the key
 *   is the base64-decoded part of the `whsec_…` secret. It covers the body and dates the delivery.
 */

/** kie.ai's signature: base64(HMAC-SHA256(webhook secret, `${taskId}.${timestamp}`)). */
export function signCallback(secret: string, taskId: string, timestamp: number): string {
  return createHmac('sha256', secret).update(`${taskId}.${timestamp}`).digest('base64');
}

/** The Standard Webhooks signature header value, e.g. `v1,K5oZ…=`. */
export function signStandardWebhook(secret: string, id: string, timestamp: number, body: string): string {
  const digest = createHmac('sha256', standardWebhookKey(secret))
    .update(`${id}.${timestamp}.${body}`)
    .digest('base64');
  return `v1,${digest}`;
}

/** As the reference libraries read a secret: drop `whsec_`, base64-decode the rest. */
function standardWebhookKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
}

export class WebhookVerificationError extends Error {
  override name = 'WebhookVerificationError';
}

export interface VerifyWebhookOptions {
  /** Epoch ms; the receiver's clock. */
  now?: number;
  /** How far `webhook-timestamp` may be from `now` (the spec's suggestion: 5 minutes). */
  toleranceSeconds?: number;
}

/**
 * Checks a callback as received: the raw body exactly as it arrived (before any JSON parsing), the
 * headers (Node's `req.headers`, or any record with lower- or mixed-case names) and the key's webhook
 * secret. Verifies the Standard Webhooks signature over id, timestamp and body, refuses a timestamp
 * outside the tolerance (replays), then verifies kie.ai's signature over the body's `data.taskId`.
 * Returns the parsed body; throws WebhookVerificationError naming the first problem.
 * Deduplicate on `webhook-id`: it stays the same across retries of one callback.
 */
export function verifyWebhook(
  secret: string,
  headers: Record<string, string | string[] | undefined>,
  rawBody: string,
  { now = Date.now(), toleranceSeconds = 300 }: VerifyWebhookOptions = {},
): unknown {
  const header = (name: string): string => {
    const entry = Object.entries(headers).find(([key]) => key.toLowerCase() === name);
    const value = Array.isArray(entry?.[1]) ? entry[1][0] : entry?.[1];
    if (!value) throw new WebhookVerificationError(`missing ${name} header`);
    return value;
  };
  const id = header('webhook-id');
  const timestamp = header('webhook-timestamp');
  if (!/^\d+$/.test(timestamp)) throw new WebhookVerificationError('malformed webhook-timestamp');
  if (Math.abs(now / 1000 - Number(timestamp)) > toleranceSeconds) {
    throw new WebhookVerificationError('webhook-timestamp outside the tolerance');
  }
  const expected = signStandardWebhook(secret, id, Number(timestamp), rawBody);
  // The header may carry several space-separated signatures (e.g. during a secret rotation).
  const signatures = header('webhook-signature').split(' ');
  if (!signatures.some((signature) => sameText(signature, expected))) {
    throw new WebhookVerificationError('no webhook-signature matches');
  }

  let body: { data?: { taskId?: unknown } };
  try {
    body = JSON.parse(rawBody);
  } catch {
    throw new WebhookVerificationError('the body is not JSON');
  }
  const taskId = body?.data?.taskId;
  const kieTimestamp = header('x-webhook-timestamp');
  if (typeof taskId !== 'string' || kieTimestamp !== timestamp) {
    throw new WebhookVerificationError('kie.ai signature fields do not match the body');
  }
  if (!sameText(header('x-webhook-signature'), signCallback(secret, taskId, Number(timestamp)))) {
    throw new WebhookVerificationError('x-webhook-signature does not match');
  }
  return body;
}

function sameText(a: string, b: string): boolean {
  const [x, y] = [Buffer.from(a), Buffer.from(b)];
  return x.length === y.length && timingSafeEqual(x, y);
}
