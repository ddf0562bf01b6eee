import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { crc32, deflateSync } from 'node:zlib';

/**
 * Inputs for tests and the local stack that talk to the simulator: tiny real images, a minimal MP4, and a
 * throwaway service account (a key pair made on the spot, never stored) for the Vertex shape.
 */

/** A real PNG of one colour, e.g. 2×1, built by hand (signature, IHDR, IDAT, IEND). */
export function pngBytes(width: number, height: number, rgb: [number, number, number] = [255, 0, 0]): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // colour type: RGB
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: width }, () => rgb).flat())]);
  const pixels = Buffer.concat(Array.from({ length: height }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(pixels)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * A minimal MP4 container: an `ftyp` box, then a `free` box holding `label`. Enough for the checks the
 * simulator makes on an input video (and distinguishable from its samples), not a playable video.
 */
export function mp4Bytes(label = 'veo-serverless'): Buffer {
  const box = (type: string, data: Buffer) => {
    const size = Buffer.alloc(4);
    size.writeUInt32BE(8 + data.length);
    return Buffer.concat([size, Buffer.from(type, 'latin1'), data]);
  };
  // major brand isom, minor version 512, compatible brands isom, iso2, mp41
  const ftyp = box(
    'ftyp',
    Buffer.concat([
      Buffer.from('isom', 'latin1'),
      Buffer.from([0, 0, 2, 0]),
      Buffer.from('isomiso2mp41', 'latin1'),
    ]),
  );
  return Buffer.concat([ftyp, box('free', Buffer.from(label, 'utf8'))]);
}

export interface FakeServiceAccount {
  /** The JSON key file's text, as Google issues it. */
  key: string;
  clientEmail: string;
  /** PEM public key, for `startSimulator({ vertexServiceAccount })`. */
  publicKey: string;
}

/** A service account key with a fresh RSA key pair; `tokenUri` may point at the simulator's /token. */
export function fakeServiceAccount(
  options: { projectId?: string; tokenUri?: string } = {},
): FakeServiceAccount {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const projectId = options.projectId ?? 'sim-project';
  const clientEmail = `veo-serverless@${projectId}.iam.gserviceaccount.com`;
  const key = JSON.stringify({
    type: 'service_account',
    project_id: projectId,
    private_key_id: randomUUID().replace(/-/g, ''),
    private_key: privateKey,
    client_email: clientEmail,
    client_id: '100000000000000000000',
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: options.tokenUri ?? 'https://oauth2.googleapis.com/token',
    universe_domain: 'googleapis.com',
  });
  return { key, clientEmail, publicKey };
}
