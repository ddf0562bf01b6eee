import { tracer } from './observability';

/** Region and endpoint of one service: the SDK's defaults in AWS, the emulators' endpoints locally. */
export function clientOptions(endpoint: string | undefined) {
  return { region: process.env.AWS_REGION ?? 'us-east-1', endpoint };
}

/**
 * An SDK client whose calls are X-Ray subsegments (and whose requests carry the trace header); unchanged
 * outside Lambda. S3 is left out: its client also presigns the URLs clients download from, and those
 * are calls X-Ray's own http capture already shows, with nothing to risk in the signature.
 */
export function traced<Client>(client: Client): Client {
  return tracer ? tracer.captureAWSv3Client(client) : client;
}
