import { TranslateClient } from '@aws-sdk/client-translate';
import { AmazonTranslator } from '../adapters/translation/amazon-translator';
import { LocalTranslator } from '../adapters/translation/local-translator';
import { PrefilteredTranslator } from '../adapters/translation/prefiltered-translator';
import type { Config } from '../config';
import type { Translator } from '../core/ports';
import { clientOptions, traced } from './aws-clients';

export function translator(config: Config): Translator {
  if (config.TRANSLATOR !== 'amazon') return new LocalTranslator();
  return new PrefilteredTranslator(
    new AmazonTranslator(traced(new TranslateClient(clientOptions(undefined)))),
  );
}
