import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { PresignedVideoUrls } from '../adapters/presigned-video-urls';
import type { StoredObjects } from '../adapters/s3-video-store';
import type { Config } from '../config';
import type { VideoStore } from '../core/ports';
import { clientOptions } from './aws-clients';
import { once } from './lazy';

/**
 * The video store. Its URLs are signed at once by SigV4 alone (adapters/presigned-video-urls.ts), with the
 * credentials the function's DynamoDB client resolves (the SDK's default chain); its objects go through the
 * S3 client, whose module loads with the first video stored or read (a chunk of its own: infra/bundling.ts).
 * So the api signs record-info's URLs and the notifier its callbacks' and events' without ever loading it,
 * the worker loads it only to extend a video, the poller with the first video it stores.
 */
export function videoStore(config: Config, dynamo: DynamoDBDocumentClient): VideoStore {
  const urls = new PresignedVideoUrls({
    bucket: config.VIDEO_BUCKET,
    region: clientOptions(config.S3_ENDPOINT).region,
    s3Endpoint: config.S3_ENDPOINT,
    credentials: dynamo.config.credentials,
    ttlSeconds: config.RESULT_URL_TTL_SECONDS,
  });
  const load = once(async (): Promise<StoredObjects> => (await import('./s3')).videoObjects(config));
  return {
    put: async (key, body, contentType) => (await load()).put(key, body, contentType),
    open: async (key) => (await load()).open(key),
    url: (key) => urls.url(key),
  };
}
