/** Any AWS SDK v3 client, as far as a hook needs it: its middleware stack. */
export interface AwsClient {
  middlewareStack: { add(middleware: unknown, options?: unknown): void };
}

export type AwsClientHook = (client: AwsClient) => void;

const hooks = new Set<AwsClientHook>();

/**
 * Runs `hook` on every AWS client the composition builds from now on (e.g. the benchmark's call
 * counter, registered by the local stack before it imports the handlers). Returns the unregister.
 * Nothing registers one in Lambda.
 */
export function onAwsClient(hook: AwsClientHook): () => void {
  hooks.add(hook);
  return () => hooks.delete(hook);
}

/** Hands a new client to the registered hooks and returns it. */
export function instrumented<C extends AwsClient>(client: C): C {
  for (const hook of hooks) hook(client);
  return client;
}

/** Region and endpoint of one service: the SDK's defaults in AWS, the emulators' endpoints locally. */
export function clientOptions(endpoint: string | undefined) {
  return { region: process.env.AWS_REGION ?? 'us-east-1', endpoint };
}
