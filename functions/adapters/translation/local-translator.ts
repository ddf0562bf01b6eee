import type { Translation, Translator } from '../../core/ports';
import { detectLanguage } from './language';

/**
 * The local runtime's translator. No translation offline: the prompt is sent as written. It still reports
 * the language the prompt looks like (detectLanguage's Unicode-script and word heuristic), so a record
 * shows that a prompt would have been translated when deployed.
 */
export class LocalTranslator implements Translator {
  async toEnglish(text: string): Promise<Translation> {
    return { text, sourceLanguage: detectLanguage(text) };
  }
}
