import { crc32, createDeflate } from 'node:zlib';

/**
 * Test-only: a real, valid PNG of any size, all black, compressed on the fly so that a 12000×12000
 * picture is a few hundred KB on the wire (a decompression bomb: tiny to send, huge to decode).
 */
export async function blackPng(width: number, height: number, channels: 1 | 3 = 3): Promise<Buffer> {
  const deflate = createDeflate({ level: 9 });
  const out: Buffer[] = [];
  deflate.on('data', (chunk: Buffer) => out.push(chunk));
  const ended = new Promise<void>((resolve, reject) => {
    deflate.on('end', resolve);
    deflate.on('error', reject);
  });
  // Rows are a filter byte (0) and the pixels, all zero: one reused block of rows keeps memory flat.
  const rowsPerBlock = Math.max(1, Math.floor((4 * 1024 * 1024) / (1 + width * channels)));
  const block = Buffer.alloc(rowsPerBlock * (1 + width * channels));
  for (let row = 0; row < height; row += rowsPerBlock) {
    const rows = Math.min(rowsPerBlock, height - row);
    if (!deflate.write(block.subarray(0, rows * (1 + width * channels)))) {
      await new Promise((resolve) => deflate.once('drain', resolve));
    }
  }
  deflate.end();
  await ended;

  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = channels === 1 ? 0 : 2; // grey or RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', Buffer.concat(out)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}
