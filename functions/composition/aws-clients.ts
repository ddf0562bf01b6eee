/** Region and endpoint of one service: the SDK's defaults in AWS, the emulators' endpoints locally. */
export function clientOptions(endpoint: string | undefined) {
  return { region: process.env.AWS_REGION ?? 'us-east-1', endpoint };
}
