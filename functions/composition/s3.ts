import { S3Client } from '@aws-sdk/client-s3';
import { S3VideoStore } from '../adapters/s3-video-store';
import type { Config } from '../config';
import type { VideoStore } from '../core/ports';
import { clientOptions } from './aws-clients';

export function videoStore(config: Config): VideoStore {
  const s3 = new S3Client({
    ...clientOptions(config.S3_ENDPOINT),
    forcePathStyle: config.S3_ENDPOINT !== undefined,
  });
  return new S3VideoStore({ s3, bucket: config.VIDEO_BUCKET, urlTtlSeconds: config.RESULT_URL_TTL_SECONDS });
}
