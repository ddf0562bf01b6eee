import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { VideoStore } from '../core/ports';

export interface S3VideoStoreOptions {
  s3: S3Client;
  bucket: string;
}

/** What is done with a stored video's object; its URL is signed without the S3 client (presigned-video-urls.ts). */
export type StoredObjects = Pick<VideoStore, 'put' | 'open'>;

/** S3's smallest part (all but the last): the most memory an upload holds. */
const partBytes = 5 * 1024 * 1024;

/** Videos in S3, streamed in with a multipart upload and read back as a stream. */
export class S3VideoStore implements StoredObjects {
  constructor(private readonly options: S3VideoStoreOptions) {}

  /**
   * Streams `body` into S3 through one part buffer, reused for every part: memory stays at one part
   * whatever the video's size. (lib-storage's Upload allocates a fresh buffer per part; on a 200 MiB
   * video the spent parts piled up to ~60 MiB before V8 collected them — `npm run bench`, rss.)
   * A video smaller than one part is a single PutObject.
   */
  async put(key: string, body: Readable, contentType: string): Promise<void> {
    const { s3, bucket } = this.options;
    const object = { Bucket: bucket, Key: key };
    const part = Buffer.allocUnsafe(partBytes);
    let filled = 0;
    let uploadId: string | undefined;
    const parts: CompletedPart[] = [];
    const sendPart = async () => {
      uploadId ??= (await s3.send(new CreateMultipartUploadCommand({ ...object, ContentType: contentType })))
        .UploadId;
      const PartNumber = parts.length + 1;
      const { ETag } = await s3.send(
        new UploadPartCommand({ ...object, UploadId: uploadId, PartNumber, Body: part.subarray(0, filled) }),
      );
      parts.push({ ETag, PartNumber });
      filled = 0;
    };
    try {
      for await (const chunk of body as AsyncIterable<Uint8Array>) {
        for (let offset = 0; offset < chunk.length; ) {
          const take = Math.min(partBytes - filled, chunk.length - offset);
          part.set(chunk.subarray(offset, offset + take), filled);
          filled += take;
          offset += take;
          if (filled === partBytes) await sendPart();
        }
      }
      if (uploadId === undefined) {
        await s3.send(
          new PutObjectCommand({ ...object, Body: part.subarray(0, filled), ContentType: contentType }),
        );
        return;
      }
      if (filled > 0) await sendPart();
      await s3.send(
        new CompleteMultipartUploadCommand({
          ...object,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
    } catch (error) {
      // An abandoned upload's parts are billed until aborted (the bucket's lifecycle rule is the backstop).
      if (uploadId !== undefined) {
        await s3.send(new AbortMultipartUploadCommand({ ...object, UploadId: uploadId })).catch(() => {});
      }
      throw error;
    }
  }

  async open(key: string): Promise<Readable> {
    const out = await this.options.s3.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: key }));
    if (!(out.Body instanceof Readable)) throw new Error(`video ${key} has no readable body`);
    return out.Body;
  }
}
