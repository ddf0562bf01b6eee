import { HttpCallbackSender } from '../adapters/http-callback-sender';
import { HttpImageFetcher } from '../adapters/images/http-image-fetcher';
import type { Config } from '../config';
import type { Settings } from '../core/deps';
import type { CallbackSender, ImageFetcher } from '../core/ports';

export function callbackSender(settings: Settings): CallbackSender {
  return new HttpCallbackSender(settings.urlPolicy);
}

export function imageFetcher(config: Config, settings: Settings): ImageFetcher {
  return new HttpImageFetcher({ policy: settings.urlPolicy, maxBytes: config.IMAGE_MAX_BYTES });
}
