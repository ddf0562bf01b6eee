import { S3Client } from '@aws-sdk/client-s3';
import { S3VideoStore, type StoredObjects } from '../adapters/s3-video-store';
import type { Config } from '../config';
import { clientOptions } from './aws-clients';

/** The stored videos' objects in S3 (imported on first use by composition/videos.ts). */
export function videoObjects(config: Config): StoredObjects {
  const s3 = new S3Client({
    ...clientOptions(config.S3_ENDPOINT),
    forcePathStyle: config.S3_ENDPOINT !== undefined,
  });
  return new S3VideoStore({ s3, bucket: config.VIDEO_BUCKET });
}
