import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { S3VideoStore } from '../../functions/adapters/s3-video-store';
import { type LocalStack, startEmulators } from '../../local/emulators';

const MiB = 1024 * 1024;

/** `bytes` as a stream of odd-sized chunks, so parts never line up with chunk edges. */
function chunked(bytes: Buffer, chunkBytes = 64 * 1024 + 3): Readable {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += chunkBytes) chunks.push(bytes.subarray(at, at + chunkBytes));
  return Readable.from(chunks);
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('S3VideoStore on the S3 emulator', () => {
  let stack: LocalStack;
  let s3: S3Client;
  let store: S3VideoStore;
  const uploadIds: string[] = [];

  beforeAll(async () => {
    // A bucket of its own on the project's shared fauxqs (test/setup/emulators.ts).
    stack = await startEmulators({ attach: inject('emulators') });
    s3 = new S3Client({
      region: stack.region,
      credentials: stack.credentials,
      endpoint: stack.s3Endpoint,
      forcePathStyle: true,
    });
    // The uploads the store opens, to check afterwards that a failed one was aborted.
    s3.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        const output = result.output as { UploadId?: string };
        if (context.commandName === 'CreateMultipartUploadCommand' && output.UploadId) {
          uploadIds.push(output.UploadId);
        }
        return result;
      },
      { step: 'initialize' },
    );
    store = new S3VideoStore({ s3, bucket: stack.bucket });
  });
  afterAll(() => stack?.stop());

  const stored = async (key: string) => {
    const object = await s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: key }));
    return { type: object.ContentType, bytes: await object.Body?.transformToByteArray() };
  };

  it.each([
    ['empty', 0],
    ['one byte', 1],
    ['exactly one part', 5 * MiB],
    ['one part and a byte', 5 * MiB + 1],
    ['several parts', 12 * MiB + 7],
  ])('stores a %s video byte for byte', async (_, size) => {
    const video = randomBytes(size);
    const key = `videos/size-${size}/0.mp4`;
    await store.put(key, chunked(video), 'video/mp4');
    const { type, bytes } = await stored(key);
    expect(type).toBe('video/mp4');
    expect(bytes?.length).toBe(size);
    expect(sha256(bytes ?? new Uint8Array())).toBe(sha256(video));
  });

  it('stores nothing and leaves no upload open when the source fails mid-way', async () => {
    const key = 'videos/broken/0.mp4';
    async function* failing() {
      yield randomBytes(6 * MiB); // one whole part sent first
      throw new Error('upstream connection reset');
    }
    await expect(store.put(key, Readable.from(failing()), 'video/mp4')).rejects.toThrow(
      'upstream connection reset',
    );
    await expect(s3.send(new HeadObjectCommand({ Bucket: stack.bucket, Key: key }))).rejects.toThrow();
    // The upload it had opened is gone: a further part for it is refused.
    const uploadId = uploadIds.at(-1);
    expect(uploadId).toBeDefined();
    await expect(
      s3.send(
        new UploadPartCommand({
          Bucket: stack.bucket,
          Key: key,
          UploadId: uploadId,
          PartNumber: 2,
          Body: 'x',
        }),
      ),
    ).rejects.toThrow();
  });
});
