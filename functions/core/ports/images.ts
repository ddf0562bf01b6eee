import type { ConcreteAspectRatio } from '../schema';

export type ImageMimeType = 'image/png' | 'image/jpeg' | 'image/webp';

/** An input image as fetched by the worker (and centre-cropped when the aspect ratio was Auto). */
export interface SourceImage {
  bytes: Buffer;
  mimeType: ImageMimeType;
  width: number;
  height: number;
}

/** Fetches untrusted image URLs through the URL guard, with a size limit, a timeout and type sniffing. */
export interface ImageFetcher {
  /** Throws ImageRejectedError for anything the client must fix. */
  fetch(url: string, signal?: AbortSignal): Promise<SourceImage>;
}

export interface ImageCropper {
  /** Centre-crops the image to the aspect ratio (no resize beyond the crop). */
  crop(image: SourceImage, aspectRatio: ConcreteAspectRatio): Promise<SourceImage>;
}
