import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { VideoWatermarker } from '../../core/ports';
import { escapeFilterValue, transcode } from './ffmpeg';

/**
 * The font shipped next to this module (DejaVu Sans Bold, licence beside it). In the Lambda bundle
 * `import.meta.url` is the bundle's own file, so the deployment copies the font to `assets/` next to it.
 */
export const DEFAULT_FONT_FILE = fileURLToPath(new URL('./assets/DejaVuSans-Bold.ttf', import.meta.url));

export interface FfmpegWatermarkerOptions {
  ffmpegPath: string;
  /** A TrueType/OpenType font; DejaVu Sans has no CJK glyphs, so such watermarks need another font. */
  fontFile?: string;
  /** Where the input, text and output files live while a video is stamped. @default os.tmpdir() */
  tmpDir?: string;
  /** @default 300_000 */
  timeoutMs?: number;
}

/**
 * Draws the watermark at the bottom right, white at 60 % opacity with a faint shadow, sized from the video's
 * height (and shrunk for long texts so they fit the width); the audio is copied as is.
 *
 * Memory stays flat whatever the video's size (see `transcode`); the caller must consume or destroy the
 * returned stream, which deletes the temp files when it closes.
 */
export class FfmpegWatermarker implements VideoWatermarker {
  private readonly fontFile: string;
  private readonly tmpDir: string;

  constructor(private readonly options: FfmpegWatermarkerOptions) {
    this.fontFile = options.fontFile ?? DEFAULT_FONT_FILE;
    this.tmpDir = options.tmpDir ?? tmpdir();
    // A missing font is a packaging mistake: say so at start-up, not on the first watermark.
    if (!existsSync(this.fontFile)) throw new Error(`watermark font not found: ${this.fontFile}`);
  }

  /** A blank text (after watermarkLine) returns the video untouched. */
  async stamp(video: Readable, text: string): Promise<Readable> {
    const line = watermarkLine(text);
    if (line === '') return video;

    return transcode(
      video,
      {
        ffmpegPath: this.options.ffmpegPath,
        tmpDir: this.tmpDir,
        timeoutMs: this.options.timeoutMs,
        prefix: 'veo-watermark-',
      },
      async ({ input, output, dir }) => {
        // The text goes through a file with expansion off: nothing in it is escaped, expanded or interpreted.
        const textFile = join(dir, 'text.txt');
        await writeFile(textFile, line, 'utf8');
        return [
          ...['-i', input, '-map', '0:v:0', '-map', '0:a?', '-map_metadata', '0'],
          ...['-vf', drawtextFilter(this.fontFile, textFile, [...line].length)],
          ...['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18', '-pix_fmt', 'yuv420p'],
          ...['-c:a', 'copy', '-movflags', '+faststart', '-f', 'mp4', '-y', output],
        ];
      },
    );
  }
}

/** The watermark as one line: control characters and line breaks become spaces, runs of spaces one. */
export function watermarkLine(text: string): string {
  return text
    .replace(/[\p{Cc}\p{Zl}\p{Zp}\s]+/gu, ' ')
    .normalize('NFC')
    .trim();
}

/**
 * The drawtext filter. The font size is 1/20 of the height, or less when the text would be wider than
 * the frame (estimated at 0.7 em per character, since drawtext's size cannot depend on the text width).
 */
export function drawtextFilter(fontFile: string, textFile: string, characters: number): string {
  const options: [string, string][] = [
    ['fontfile', fontFile],
    ['textfile', textFile],
    ['expansion', 'none'],
    ['fontcolor', 'white@0.6'],
    ['shadowcolor', 'black@0.5'],
    ['shadowx', '1'],
    ['shadowy', '1'],
    ['fontsize', `min(h/20,w*0.92/(${Math.max(characters, 1)}*0.7))`],
    ['x', 'max(h/30,w-tw-h/30)'],
    ['y', 'h-th-h/30'],
  ];
  return `drawtext=${options.map(([key, value]) => `${key}=${escapeFilterValue(value)}`).join(':')}`;
}
