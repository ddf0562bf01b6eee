import type { CallbackDelivery, CallbackSender } from '../core/ports';

/** POSTs client callbacks with the SPEC's 15 s timeout; redirects are not followed. */
export class HttpCallbackSender implements CallbackSender {
  constructor(private readonly timeoutMs = 15_000) {}

  async send({ url, body, headers }: CallbackDelivery): Promise<number> {
    const response = await fetch(url, {
      method: 'POST',
      body,
      headers,
      redirect: 'manual',
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    await response.body?.cancel();
    return response.status;
  }
}
