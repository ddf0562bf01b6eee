import { describe, expect, it } from 'vitest';
import type { Translator } from '../../core/ports';
import { PrefilteredTranslator } from './prefiltered-translator';

describe('PrefilteredTranslator', () => {
  it('passes likely foreign prompts on and answers English ones itself', async () => {
    const seen: string[] = [];
    const inner: Translator = {
      async toEnglish(text) {
        seen.push(text);
        return { text: 'A cat on the roof', sourceLanguage: 'zh' };
      },
    };
    const translator = new PrefilteredTranslator(inner);

    expect(await translator.toEnglish('屋顶上的猫')).toEqual({
      text: 'A cat on the roof',
      sourceLanguage: 'zh',
    });
    expect(await translator.toEnglish('A cat on the roof')).toEqual({
      text: 'A cat on the roof',
      sourceLanguage: 'en',
    });
    expect(seen).toEqual(['屋顶上的猫']);
  });
});
