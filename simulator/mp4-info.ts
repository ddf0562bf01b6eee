/**
 * What an MP4 really holds, read from its boxes (no ffprobe): the movie's duration (`mvhd`), the video
 * track's width and height (`tkhd`), and whether it has a sound track (`hdlr` of type `soun`). Enough
 * for the simulator to extend a video by its real length, and for tests to check a downloaded file.
 */

export interface Mp4Info {
  width: number;
  height: number;
  durationSeconds: number;
  hasAudio: boolean;
}

const containers = new Set(['moov', 'trak', 'mdia', 'minf', 'stbl', 'edts']);

interface Box {
  type: string;
  start: number;
  end: number;
  body: number;
}

function* boxes(bytes: Buffer, start: number, end: number): Generator<Box> {
  let offset = start;
  while (offset + 8 <= end) {
    let size = bytes.readUInt32BE(offset);
    const type = bytes.toString('latin1', offset + 4, offset + 8);
    let body = offset + 8;
    if (size === 1) {
      if (offset + 16 > end) return;
      size = Number(bytes.readBigUInt64BE(offset + 8));
      body = offset + 16;
    } else if (size === 0) size = end - offset;
    if (size < body - offset || offset + size > end) return;
    yield { type, start: offset, end: offset + size, body };
    offset += size;
  }
}

/** The MP4's facts, or undefined when it has no readable `moov` (e.g. the fixtures' minimal container). */
export function mp4Info(bytes: Buffer): Mp4Info | undefined {
  const moov = [...boxes(bytes, 0, bytes.length)].find((b) => b.type === 'moov');
  if (!moov) return undefined;
  let durationSeconds: number | undefined;
  let width = 0;
  let height = 0;
  let hasAudio = false;
  const walk = (start: number, end: number, track?: { width: number; height: number }) => {
    for (const box of boxes(bytes, start, end)) {
      if (box.type === 'mvhd') {
        const version = bytes[box.body];
        const timescale = bytes.readUInt32BE(box.body + (version === 1 ? 20 : 12));
        const duration =
          version === 1 ? Number(bytes.readBigUInt64BE(box.body + 24)) : bytes.readUInt32BE(box.body + 16);
        if (timescale > 0) durationSeconds = duration / timescale;
      } else if (box.type === 'tkhd' && track) {
        // width and height are the last 8 bytes of tkhd, 16.16 fixed point.
        track.width = bytes.readUInt32BE(box.end - 8) / 65536;
        track.height = bytes.readUInt32BE(box.end - 4) / 65536;
      } else if (box.type === 'hdlr' && track) {
        const handler = bytes.toString('latin1', box.body + 8, box.body + 12);
        if (handler === 'vide' && track.width > 0) {
          width = track.width;
          height = track.height;
        }
        if (handler === 'soun') hasAudio = true;
      } else if (box.type === 'trak') {
        walk(box.body, box.end, { width: 0, height: 0 });
      } else if (containers.has(box.type)) {
        walk(box.body, box.end, track);
      }
    }
  };
  walk(moov.body, moov.end);
  if (durationSeconds === undefined || width === 0) return undefined;
  return { width, height, durationSeconds, hasAudio };
}
