import type { Readable } from 'node:stream';

export interface VideoStore {
  /** Streams the body into the store without holding the whole file in memory. */
  put(key: string, body: Readable, contentType: string): Promise<void>;
  /** Streams a stored object back. */
  open(key: string): Promise<Readable>;
  /** A time-limited URL anyone can GET the object from. */
  url(key: string): Promise<string>;
}
