import {
  DetectedLanguageLowConfidenceException,
  TooManyRequestsException,
  TranslateClient,
  TranslateServiceException,
  TranslateTextCommand,
  UnsupportedLanguagePairException,
} from '@aws-sdk/client-translate';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { UpstreamUnavailableError } from '../../core/errors';
import { AmazonTranslator, MAX_CHUNK_BYTES, splitForTranslation } from './amazon-translator';

const translate = mockClient(TranslateClient);
const translator = new AmazonTranslator(new TranslateClient({ region: 'us-east-1' }));
afterEach(() => translate.reset());

function requests() {
  return translate.commandCalls(TranslateTextCommand).map((call) => call.args[0].input);
}

describe('AmazonTranslator', () => {
  it('asks for English from an automatically detected language', async () => {
    translate
      .on(TranslateTextCommand)
      .resolves({ TranslatedText: 'A cat dancing on the roof', SourceLanguageCode: 'zh' });

    const result = await translator.toEnglish('一只猫在屋顶上跳舞');

    expect(result).toEqual({ text: 'A cat dancing on the roof', sourceLanguage: 'zh' });
    expect(requests()).toEqual([
      { Text: '一只猫在屋顶上跳舞', SourceLanguageCode: 'auto', TargetLanguageCode: 'en' },
    ]);
  });

  it('returns an English prompt exactly as written', async () => {
    translate
      .on(TranslateTextCommand)
      .resolves({ TranslatedText: 'A cat, dancing.', SourceLanguageCode: 'en' });
    expect(await translator.toEnglish('A  cat , dancing.')).toEqual({
      text: 'A  cat , dancing.',
      sourceLanguage: 'en',
    });
  });

  it('reports the language without its region', async () => {
    translate.on(TranslateTextCommand).resolves({ TranslatedText: 'A cat', SourceLanguageCode: 'zh-TW' });
    expect(await translator.toEnglish('一隻貓')).toEqual({ text: 'A cat', sourceLanguage: 'zh' });
  });

  it('sends a long prompt in chunks under the size limit, read as the language of the first', async () => {
    const sentence = '一只猫在月光下的屋顶上慢慢地跳舞。'; // 17 characters, 51 bytes
    const prompt = sentence.repeat(290); // 4,930 characters, 14,790 bytes: over TranslateText's 10,000
    translate
      .on(TranslateTextCommand)
      .resolvesOnce({ TranslatedText: 'First part.', SourceLanguageCode: 'zh-TW' })
      .resolvesOnce({ TranslatedText: 'Second part.', SourceLanguageCode: 'zh-TW' });

    const result = await translator.toEnglish(prompt);

    expect(result).toEqual({ text: 'First part. Second part.', sourceLanguage: 'zh' });
    const sent = requests();
    expect(sent.map((input) => input.SourceLanguageCode)).toEqual(['auto', 'zh-TW']);
    expect(sent.every((input) => input.TargetLanguageCode === 'en')).toBe(true);
    expect(sent.every((input) => Buffer.byteLength(input.Text ?? '') <= MAX_CHUNK_BYTES)).toBe(true);
    expect(sent.map((input) => input.Text).join('')).toBe(prompt);
  });

  it('sends the prompt as written when Amazon cannot tell or cannot translate the language', async () => {
    translate
      .on(TranslateTextCommand)
      .rejectsOnce(new DetectedLanguageLowConfidenceException({ message: 'low confidence', $metadata: {} }))
      .rejectsOnce(
        new UnsupportedLanguagePairException({
          message: 'unsupported',
          $metadata: {},
          SourceLanguageCode: 'xx',
        }),
      );
    expect(await translator.toEnglish('asdf qwer')).toEqual({ text: 'asdf qwer', sourceLanguage: 'en' });
    expect(await translator.toEnglish('zxcv')).toEqual({ text: 'zxcv', sourceLanguage: 'en' });
  });

  it('turns throttling into UpstreamUnavailableError and lets other errors through', async () => {
    const denied = new TranslateServiceException({
      name: 'AccessDeniedException',
      $fault: 'client',
      message: 'not authorized to perform comprehend:DetectDominantLanguage',
      $metadata: {},
    });
    translate
      .on(TranslateTextCommand)
      .rejectsOnce(new TooManyRequestsException({ message: 'slow down', $metadata: {} }))
      .rejectsOnce(denied);
    const throttled = translator.toEnglish('un gato');
    await expect(throttled).rejects.toBeInstanceOf(UpstreamUnavailableError);
    await expect(throttled).rejects.toThrow('Amazon Translate: slow down');
    await expect(translator.toEnglish('un gato')).rejects.toBe(denied);
  });

  it('does not call Amazon for a blank prompt', async () => {
    expect(await translator.toEnglish('  ')).toEqual({ text: '  ', sourceLanguage: 'en' });
    expect(requests()).toEqual([]);
  });
});

describe('splitForTranslation', () => {
  it('keeps a short text whole', () => {
    expect(splitForTranslation('短い。', 100)).toEqual(['短い。']);
  });

  it('cuts after sentence ends and line breaks, keeping every character', () => {
    const text = 'One two three. Four five six!\nSeven eight nine? Ten.';
    const chunks = splitForTranslation(text, 20);
    expect(chunks).toEqual(['One two three.', 'Four five six!', 'Seven eight nine?', 'Ten.']);
  });

  it('cuts between characters when a sentence alone is too long', () => {
    const text = '猫'.repeat(10); // 3 bytes each
    const chunks = splitForTranslation(text, 9);
    expect(chunks).toEqual(['猫猫猫', '猫猫猫', '猫猫猫', '猫']);
  });
});
