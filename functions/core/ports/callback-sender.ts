export interface CallbackDelivery {
  url: string;
  body: string;
  headers: Record<string, string>;
}

export interface CallbackSender {
  /** POSTs the callback; resolves with the HTTP status, rejects on network errors and timeouts. */
  send(delivery: CallbackDelivery): Promise<number>;
}
