export interface Translation {
  text: string;
  /** ISO 639-1 code of the detected source language, e.g. "zh"; "en" when nothing was translated. */
  sourceLanguage: string;
}

export interface Translator {
  toEnglish(text: string): Promise<Translation>;
}
