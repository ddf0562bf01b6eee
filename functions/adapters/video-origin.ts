/** Where stored videos are fetched from: the bucket, its region, and the S3 endpoint when one is configured. */
export interface VideoLocation {
  bucket: string;
  region: string;
  /** The local emulator's endpoint: path-style URLs on it. */
  s3Endpoint?: string;
}

/**
 * The origin presigned video URLs have: the S3 endpoint when one is configured (the local emulator,
 * path-style), else the bucket's virtual-hosted regional endpoint, as the SDK signs it, under the region's
 * partition's DNS suffix (`amazonaws.com.cn` in China: presigned-video-urls.ts looks it up in the SDK's
 * table). No imports: the site names it in its pages' CSP, and the table would be most of its bundle.
 */
export function videoOrigin(
  { bucket, region, s3Endpoint }: VideoLocation,
  dnsSuffix = 'amazonaws.com',
): string {
  if (s3Endpoint) return new URL(s3Endpoint).origin;
  return `https://${bucket}.s3.${region}.${dnsSuffix}`;
}
