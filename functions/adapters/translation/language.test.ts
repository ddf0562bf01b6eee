import { describe, expect, it } from 'vitest';
import { detectLanguage, needsTranslation } from './language';
import { LocalTranslator } from './local-translator';

describe('detectLanguage and needsTranslation', () => {
  it.each([
    ['一只猫在屋顶上跳舞', 'zh'],
    ['一个穿着Nike鞋的人在跑步', 'zh'],
    ['猫が屋根の上で踊っている', 'ja'],
    ['ネコがダンスする', 'ja'],
    ['지붕 위에서 춤추는 고양이', 'ko'],
    ['Кошка танцует на крыше', 'ru'],
    ['قطة ترقص على السطح', 'ar'],
    ['Γάτα που χορεύει', 'el'],
    ['Un gato bailando en el techo al atardecer', 'es'],
    ['Un chat qui danse sur le toit', 'fr'],
    ['Eine Katze tanzt auf dem Dach', 'de'],
    ['Un gatto che balla sul tetto', 'it'],
    ['Um gato dançando no telhado da casa', 'pt'],
    ['Een kat die op het dak danst', 'nl'],
    ['Một con mèo đang nhảy múa trên mái nhà', 'vi'],
    ['Kot tańczący na dachu, słońce zachodzi', 'pl'],
  ])('%s → %s, to be translated', (prompt, language) => {
    expect(detectLanguage(prompt)).toBe(language);
    expect(needsTranslation(prompt)).toBe(true);
  });

  it.each([
    'A cat dancing on a roof at sunset, cinematic, 35mm',
    'A café in Paris serving crème brûlée, with a jalapeño garnish',
    'Close-up of a hummingbird 🐦 drinking nectar',
    'Drone shot over the Grand Canyon',
    '4K, 60 fps!!!',
    '',
  ])('%j is English', (prompt) => {
    expect(detectLanguage(prompt)).toBe('en');
    expect(needsTranslation(prompt)).toBe(false);
  });

  it('asks to translate an English prompt quoting another script, while calling it English', () => {
    const prompt = 'A neon sign reading 東京 glowing in the rain';
    expect(needsTranslation(prompt)).toBe(true);
    expect(detectLanguage(prompt)).toBe('en');
  });
});

describe('LocalTranslator', () => {
  it('sends the prompt as written and names the language it looks like', async () => {
    const translator = new LocalTranslator();
    expect(await translator.toEnglish('一只猫')).toEqual({ text: '一只猫', sourceLanguage: 'zh' });
    expect(await translator.toEnglish('A cat')).toEqual({ text: 'A cat', sourceLanguage: 'en' });
  });
});
