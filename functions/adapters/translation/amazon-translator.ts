import {
  DetectedLanguageLowConfidenceException,
  InternalServerException,
  ServiceUnavailableException,
  TooManyRequestsException,
  type TranslateClient,
  TranslateTextCommand,
  UnsupportedLanguagePairException,
} from '@aws-sdk/client-translate';
import { UpstreamUnavailableError } from '../../core/errors';
import type { Translation, Translator } from '../../core/ports';

/** TranslateText takes at most 10,000 UTF-8 bytes; a 5,000-character Chinese prompt is about 15,000. */
export const MAX_CHUNK_BYTES = 9000;

/**
 * Amazon Translate with automatic source detection (which calls Amazon Comprehend, so the role needs
 * `comprehend:DetectDominantLanguage` as well as `translate:TranslateText`).
 *
 * A prompt detected as English comes back exactly as written. A prompt whose language Amazon cannot tell
 * or cannot translate to English is sent as written too, reported as 'en' (nothing was translated).
 * Throttling and server errors, after the SDK's own retries, become UpstreamUnavailableError: retry later.
 */
export class AmazonTranslator implements Translator {
  constructor(private readonly client: TranslateClient) {}

  async toEnglish(text: string): Promise<Translation> {
    if (text.trim() === '') return { text, sourceLanguage: 'en' };
    const [first, ...rest] = splitForTranslation(text, MAX_CHUNK_BYTES);
    if (first === undefined) return { text, sourceLanguage: 'en' };
    try {
      const head = await this.translate(first, 'auto');
      // Amazon's codes may carry a region (zh-TW, es-MX); the port speaks ISO 639-1.
      const sourceLanguage = head.sourceLanguage.split('-')[0]?.toLowerCase() ?? head.sourceLanguage;
      if (sourceLanguage === 'en') return { text, sourceLanguage: 'en' };
      // Later chunks use the language detected in the first, so one prompt is read as one language.
      const tail: string[] = [];
      for (const chunk of rest) tail.push((await this.translate(chunk, head.sourceLanguage)).text);
      return { text: [head.text, ...tail].join(' '), sourceLanguage };
    } catch (error) {
      if (
        error instanceof DetectedLanguageLowConfidenceException ||
        error instanceof UnsupportedLanguagePairException
      ) {
        return { text, sourceLanguage: 'en' };
      }
      if (
        error instanceof TooManyRequestsException ||
        error instanceof ServiceUnavailableException ||
        error instanceof InternalServerException
      ) {
        throw new UpstreamUnavailableError(`Amazon Translate: ${error.message}`, { cause: error });
      }
      throw error;
    }
  }

  /** One TranslateText call; sourceLanguage is Amazon's code as detected (e.g. zh-TW). */
  private async translate(text: string, sourceLanguage: string): Promise<Translation> {
    const output = await this.client.send(
      new TranslateTextCommand({ Text: text, SourceLanguageCode: sourceLanguage, TargetLanguageCode: 'en' }),
    );
    return {
      text: output.TranslatedText ?? '',
      sourceLanguage: output.SourceLanguageCode ?? sourceLanguage,
    };
  }
}

/**
 * Splits text into chunks of at most maxBytes UTF-8 bytes, after sentence ends or line breaks where it can,
 * else between characters. Short texts come back whole.
 */
export function splitForTranslation(text: string, maxBytes: number): string[] {
  const bytes = (s: string) => Buffer.byteLength(s, 'utf8');
  if (bytes(text) <= maxBytes) return [text];
  const pieces = text.match(/[^.!?。！？\n]*(?:[.!?。！？\n]+|$)/gu) ?? [text];
  const chunks: string[] = [];
  let current = '';
  let currentBytes = 0;
  const add = (piece: string, size: number) => {
    if (currentBytes + size > maxBytes) {
      if (current.trim() !== '') chunks.push(current.trim());
      current = '';
      currentBytes = 0;
    }
    current += piece;
    currentBytes += size;
  };
  for (const piece of pieces) {
    const size = bytes(piece);
    if (size <= maxBytes) add(piece, size);
    else for (const char of piece) add(char, bytes(char));
  }
  if (current.trim() !== '') chunks.push(current.trim());
  return chunks;
}
