import { Readable } from 'node:stream';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { VideoStore } from '../core/ports';

export interface S3VideoStoreOptions {
  s3: S3Client;
  bucket: string;
  urlTtlSeconds: number;
}

/** Videos in S3, streamed in with a multipart upload and handed out as presigned GET URLs. */
export class S3VideoStore implements VideoStore {
  constructor(private readonly options: S3VideoStoreOptions) {}

  async put(key: string, body: Readable, contentType: string): Promise<void> {
    // Upload buffers at most queueSize × partSize (2 × 8 MiB), whatever the video's size.
    const upload = new Upload({
      client: this.options.s3,
      params: { Bucket: this.options.bucket, Key: key, Body: body, ContentType: contentType },
      queueSize: 2,
      partSize: 8 * 1024 * 1024,
    });
    await upload.done();
  }

  async open(key: string): Promise<Readable> {
    const out = await this.options.s3.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: key }));
    if (!(out.Body instanceof Readable)) throw new Error(`video ${key} has no readable body`);
    return out.Body;
  }

  url(key: string): Promise<string> {
    return getSignedUrl(this.options.s3, new GetObjectCommand({ Bucket: this.options.bucket, Key: key }), {
      expiresIn: this.options.urlTtlSeconds,
    });
  }
}
