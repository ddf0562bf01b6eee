import type { CallbackDelivery, CallbackSender } from '../core/ports';
import type { UrlPolicy } from '../core/url-guard';
import { guardedRequest } from './http/guarded-request';

/**
 * POSTs client callbacks with the SPEC's 15 s timeout through the URL guard: the name is resolved and
 * every address checked at each delivery, the socket only gets a checked address, redirects are not followed.
 */
export class HttpCallbackSender implements CallbackSender {
  constructor(
    private readonly policy: UrlPolicy,
    private readonly timeoutMs = 15_000,
  ) {}

  async send({ url, body, headers }: CallbackDelivery): Promise<number> {
    const response = await guardedRequest(url, {
      method: 'POST',
      headers,
      body,
      timeoutMs: this.timeoutMs,
      maxResponseBytes: 64 * 1024,
      policy: this.policy,
      subject: 'callBackUrl',
    });
    response.body.destroy(); // only the status matters
    return response.status;
  }
}
