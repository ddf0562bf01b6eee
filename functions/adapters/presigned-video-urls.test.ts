import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { describe, expect, it } from 'vitest';
import { PresignedVideoUrls } from './presigned-video-urls';
import { videoOrigin } from './video-origin';

const bucket = 'veoserverless-storagevideos1a2b3c4d-abcdef';
const signingDate = new Date('2026-12-01T12:34:56Z');
const keys = ['videos/veo_abc123/0.mp4', 'videos/veo_abc123/0-original.mp4', "videos/a b/ü+(1)!*'~.mp4"];
const credentialSets = {
  'long-term keys': {
    accessKeyId: 'AKIDEXAMPLE',
    secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  },
  "a Lambda role's session": {
    accessKeyId: 'ASIAEXAMPLE',
    secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
    sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLWVhc3QtMSJHMEUCIQ+token=',
  },
};

describe('PresignedVideoUrls: the URL the SDK presigns, without the S3 client', () => {
  for (const [what, credentials] of Object.entries(credentialSets)) {
    it.each([
      ['us-east-1', undefined],
      ['eu-west-1', undefined],
      ['cn-north-1', undefined],
      ['us-gov-west-1', undefined],
      ['us-east-1', 'http://127.0.0.1:4566'],
    ])(`signs as getSignedUrl does, with ${what}, in %s (endpoint %s)`, async (region, s3Endpoint) => {
      const ttlSeconds = 3600;
      const s3 = new S3Client({
        region,
        credentials,
        ...(s3Endpoint && { endpoint: s3Endpoint, forcePathStyle: true }),
      });
      const urls = new PresignedVideoUrls({
        bucket,
        region,
        s3Endpoint,
        credentials: async () => credentials,
        ttlSeconds,
      });
      for (const key of keys) {
        const expected = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), {
          expiresIn: ttlSeconds,
          signingDate,
        });
        expect(await urls.url(key, signingDate)).toBe(expected);
      }
    });
  }

  it('signs at the current time by default, valid for the TTL', async () => {
    const urls = new PresignedVideoUrls({
      bucket,
      region: 'eu-west-1',
      credentials: async () => credentialSets['long-term keys'],
      ttlSeconds: 600,
    });
    const url = new URL(await urls.url('videos/t/0.mp4'));
    const date = url.searchParams.get('X-Amz-Date') ?? '';
    const signedAt = Date.parse(
      date.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'),
    );
    expect(Math.abs(signedAt - Date.now())).toBeLessThan(5_000);
    expect(url.searchParams.get('X-Amz-Expires')).toBe('600');
  });
});

describe('videoOrigin', () => {
  it('is the S3 endpoint when there is one, else the bucket on its regional endpoint', () => {
    expect(videoOrigin({ bucket: 'b', region: 'us-east-1', s3Endpoint: 'http://127.0.0.1:4566/' })).toBe(
      'http://127.0.0.1:4566',
    );
    expect(videoOrigin({ bucket: 'veo-videos-1a2b', region: 'eu-west-1' })).toBe(
      'https://veo-videos-1a2b.s3.eu-west-1.amazonaws.com',
    );
    expect(videoOrigin({ bucket: 'veo-videos-1a2b', region: 'cn-north-1' }, 'amazonaws.com.cn')).toBe(
      'https://veo-videos-1a2b.s3.cn-north-1.amazonaws.com.cn',
    );
  });
});
