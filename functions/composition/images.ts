import { SharpImageCropper } from '../adapters/images/sharp-image-cropper';
import type { ImageCropper } from '../core/ports';

/**
 * Untrusted images are decoded by libvips (sharp), never by ffmpeg: ffmpeg is for our own videos. Its own
 * module, so that only the worker's bundle loads sharp's native binary.
 */
export function imageCropper(): ImageCropper {
  return new SharpImageCropper();
}
