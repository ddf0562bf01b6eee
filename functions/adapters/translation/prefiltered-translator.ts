import type { Translation, Translator } from '../../core/ports';
import { needsTranslation } from './language';

/**
 * Calls the wrapped translator only for prompts that needsTranslation flags; the others are English as
 * written. Wiring it in the composition point saves a paid Translate (and Comprehend) call per English
 * prompt without the core importing an adapter. The price: a foreign prompt the heuristic misses (a short
 * one with no function words, say) is sent as written.
 */
export class PrefilteredTranslator implements Translator {
  constructor(
    private readonly inner: Translator,
    private readonly isLikelyForeign: (text: string) => boolean = needsTranslation,
  ) {}

  async toEnglish(text: string): Promise<Translation> {
    return this.isLikelyForeign(text) ? this.inner.toEnglish(text) : { text, sourceLanguage: 'en' };
  }
}
