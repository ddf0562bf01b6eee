import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/**
 * Counts the AWS calls the functions make, by service and operation, without a hook in production code:
 * every SDK v3 client shares smithy's `Client.prototype.send`, so this wraps it once and, on each
 * client's first call made from functions/ (the composition's clients; the local stack's own event-source
 * polling, Lambda's job when deployed, is not ours), adds a counting middleware to that client's stack.
 */
export type CallListener = (service: string, operation: string, input?: unknown) => void;

interface MiddlewareStack {
  add(middleware: unknown, options: { step: string; name: string }): void;
}
interface SmithyClient {
  middlewareStack: MiddlewareStack;
  send(...args: unknown[]): unknown;
}

const functionsDir = fileURLToPath(new URL('../functions/', import.meta.url));
const listeners = new Set<CallListener>();
/** Stacks already looked at; DynamoDBDocumentClient shares the stack of the client it wraps. */
const seen = new WeakSet<MiddlewareStack>();
let installed = false;

/** Calls `listener` for every AWS request the functions send from now on; returns the unsubscribe. */
export function onAwsCall(listener: CallListener): () => void {
  install();
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function install(): void {
  if (installed) return;
  installed = true;
  // Any SDK client's prototype chain ends at smithy's Client, whose `send` every client inherits.
  const base = Object.getPrototypeOf(DynamoDBClient.prototype) as SmithyClient;
  const send = base.send;
  base.send = function (this: SmithyClient, ...args: unknown[]) {
    const stack = this.middlewareStack;
    if (!seen.has(stack)) {
      seen.add(stack);
      if (calledFromFunctions()) stack.add(counter, { step: 'deserialize', name: 'benchCallCounter' });
    }
    return send.apply(this, args);
  };
}

/** Whether the code calling `send` (a few frames up) lives in functions/. */
function calledFromFunctions(): boolean {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 20;
  const trace = new Error().stack ?? '';
  Error.stackTraceLimit = limit;
  return trace.includes(functionsDir);
}

/**
 * The deserialize step runs once per request actually sent (a retry counts again); presigning a URL goes
 * through the same stack but stops before it, so it is not counted.
 */
const counter =
  (next: (args: unknown) => Promise<unknown>, context: { clientName?: string; commandName?: string }) =>
  (args: unknown) => {
    const service = (context.clientName ?? 'Unknown').replace(/Client$/, '');
    const operation = (context.commandName ?? 'Unknown').replace(/Command$/, '');
    const input = (args as { input?: unknown }).input;
    for (const listener of listeners) listener(service, operation, input);
    return next(args);
  };
