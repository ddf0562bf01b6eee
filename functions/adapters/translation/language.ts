/**
 * A cheap guess at a prompt's language, without a service. It decides whether a prompt is worth sending to
 * the translator (needsTranslation) and names the language when no translator exists (the local runtime).
 * When deployed, Amazon Translate's own detection is the real judge: a false positive here costs one
 * translation call that comes back as English; a false negative sends a foreign prompt as written, so the
 * rules lean towards "translate".
 *
 * Rules, in order:
 * 1. When most letters are of non-Latin scripts, the script decides: any kana → ja (Japanese uses kanji
 *    too), else the script with most letters: Han → zh, Hangul → ko, Cyrillic → ru, Arabic → ar, and a few
 *    more. (needsTranslation is stricter: any non-Latin letter at all.)
 * 2. Latin text counts common function words of English and of a few languages Veo users often write
 *    (es, fr, de, it, pt, nl), plus letters typical of one language (ñ, ß, ő, ł, ğ, đ, Vietnamese tones…;
 *    not é, which English loanwords use); the foreign language with most hits, if it has more than English.
 * 3. Anything else, including text with no letters, is English.
 */

/** Non-Latin scripts and the language each most likely means. */
const scripts: [RegExp, string][] = [
  [/[\p{Script=Hiragana}\p{Script=Katakana}]/u, 'ja'],
  [/\p{Script=Han}/u, 'zh'],
  [/\p{Script=Hangul}/u, 'ko'],
  [/\p{Script=Cyrillic}/u, 'ru'],
  [/\p{Script=Arabic}/u, 'ar'],
  [/\p{Script=Hebrew}/u, 'he'],
  [/\p{Script=Greek}/u, 'el'],
  [/\p{Script=Thai}/u, 'th'],
  [/\p{Script=Devanagari}/u, 'hi'],
];

const words = (list: string) => new Set(list.split(' '));

const englishWords = words(
  'the a an and of with in on at to from by into onto over under is are was were while his her their its this that these those',
);

/** Frequent words of each language that are not English words as well. */
const foreignWords: Record<string, Set<string>> = {
  es: words('el la los las un una unos unas y con del al que en por para sobre es está muy entre su sus'),
  fr: words('le la les un une des du et avec dans sur est qui que au aux sous sa ses leur très'),
  de: words('der die das ein eine einem einen einer und mit auf ist im zu von den dem des unter über sich'),
  it: words('il lo gli la le un una uno e con di che nel nella sulla della del sul tra molto'),
  pt: words('o os um uma e com da dos das em na que sobre muito entre seu sua'),
  nl: words('de het een en met op zijn naar bij voor onder'),
};

/** Letters that, in Latin text, belong to one language (or family) only; each counts as one hit. */
const foreignLetters: [RegExp, string][] = [
  [/[ñ¿¡]/giu, 'es'],
  [/[ßäöü]/giu, 'de'],
  [/[ëœ]/giu, 'fr'],
  [/[ãõ]/giu, 'pt'],
  [/[ìò]/giu, 'it'],
  [/[đơư\u1EA0-\u1EF9]/giu, 'vi'],
  [/[łąęśźżń]/giu, 'pl'],
  [/[ğĞışŞİ]/gu, 'tr'], // no `i` flag: ı and İ would match plain i and I
  [/[őű]/giu, 'hu'],
  [/[ěřůčšž]/giu, 'cs'],
];

const letter = /\p{L}/gu;
const latinLetter = /\p{Script=Latin}/u;

/** ISO 639-1 code of the prompt's likely language; 'en' when nothing points elsewhere. */
export function detectLanguage(text: string): string {
  const counts = new Map<string, number>();
  let latin = 0;
  let other = 0;
  for (const [char] of text.matchAll(letter)) {
    if (latinLetter.test(char)) {
      latin++;
      continue;
    }
    other++;
    const script = scripts.find(([pattern]) => pattern.test(char));
    if (script) counts.set(script[1], (counts.get(script[1]) ?? 0) + 1);
  }
  // An English prompt quoting a sign in Chinese is still English; a Chinese one naming a brand is Chinese.
  if (other > latin) {
    if (counts.has('ja')) return 'ja';
    const [dominant] = [...counts].sort((a, b) => b[1] - a[1]);
    if (dominant) return dominant[0];
  }
  return latinLanguage(text);
}

/**
 * Whether the prompt is likely not English: any letter of a non-Latin script (a quoted sign in Chinese is
 * enough, Amazon Translate will say "en" if the rest is English), or Latin text with a foreign profile.
 */
export function needsTranslation(text: string): boolean {
  for (const [char] of text.matchAll(letter)) {
    if (!latinLetter.test(char)) return true;
  }
  return latinLanguage(text) !== 'en';
}

function latinLanguage(text: string): string {
  const words = text.toLowerCase().match(/\p{L}+/gu) ?? [];
  const english = words.filter((word) => englishWords.has(word)).length;
  const scores = new Map<string, number>();
  for (const [language, set] of Object.entries(foreignWords)) {
    scores.set(language, words.filter((word) => set.has(word)).length);
  }
  for (const [pattern, language] of foreignLetters) {
    scores.set(language, (scores.get(language) ?? 0) + (text.match(pattern)?.length ?? 0));
  }
  const [best] = [...scores].sort((a, b) => b[1] - a[1]);
  return best && best[1] > english ? best[0] : 'en';
}
