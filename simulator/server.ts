import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { geminiRoutes } from './gemini';
import { googlePushes, KEY_SET_PATHS, type PushMode } from './google-pushes';
import {
  parseBody,
  type RecordedRequest,
  type Route,
  readBody,
  redactHeaders,
  redactPath,
  type Shape,
  sendJson,
} from './http';
import { kieRoutes } from './kie';
import {
  type CallbackAttemptRecord,
  type Generation,
  Generations,
  type InjectedFault,
  type ShapeContext,
  type SimulatorOptions,
  type SimulatorStats,
} from './operations';
import { vertexRoutes } from './vertex';

export type { PushMode } from './google-pushes';
export type { RecordedRequest, Shape } from './http';
export type {
  CallbackAttemptRecord,
  Generation,
  InjectedFault,
  LatencyRange,
  SimulatorOptions,
  SimulatorStats,
  StorageNotifications,
} from './operations';

/**
 * A stand-in for Veo that speaks three upstream wire formats at once, on distinct paths, so any provider
 * can point at it: the Gemini API (gemini.ts), Vertex AI with its OAuth token endpoint (vertex.ts) and
 * kie.ai (kie.ts). Generations, latency, fault injection and quotas are shared (operations.ts).
 * Prompts containing "[reject]" end content-filtered, "[fail]" with an upstream error.
 */
export interface Simulator {
  url: string;
  stop(): Promise<void>;
  /** Counts of calls received, for tests and the benchmark. */
  stats: SimulatorStats;
  /** The latest requests received (bounded), secrets redacted, oldest first. */
  requests: RecordedRequest[];
  /**
   * Every callback attempt the simulator made (kie's pushes, the Gemini shape's webhook events, the Vertex
   * shape's storage notifications).
   */
  callbacks: CallbackAttemptRecord[];
  /**
   * What becomes of the Gemini shape's webhook deliveries and the storage notifications: `send` (default), `hold` them until `send`
   * again (a late push), or `drop` them (a lost one, and kie's callbacks too), to show the sweeper's push
   * check starting the polls; `early` sends storage notifications ahead of their operation's end.
   */
  pushes: PushMode;
  /** Makes the next matching submit(s) or poll(s) answer with this status. */
  injectFault(fault: InjectedFault): void;
  /**
   * Every generation accepted so far, oldest first: when it was created and became done upstream, its
   * outcome, how many status requests it had and when one first saw it done (for the benchmark).
   */
  generations(): readonly Generation[];
  /**
   * Takes the upstream down, as in an outage: every request (submits, polls, downloads, tokens) is answered
   * 503 in its shape's format until `up()`, and kie's pushes wait; generations in flight keep going. Also
   * `POST /_simulator/down` and `/_simulator/up` over HTTP (`GET /_simulator/state` tells which).
   */
  down(): void;
  up(): void;
  readonly isDown: boolean;
}

/** The simulator's own control routes (not an upstream's): never recorded, answered even while down. */
const CONTROL_PREFIX = '/_simulator/';

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const host = options.host ?? '127.0.0.1';
  const maxRecorded = options.maxRecordedRequests ?? 200;
  const requests: RecordedRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let baseUrl = '';

  const generations = new Generations(options);
  let down = false;
  const ctx: ShapeContext = {
    options,
    generations,
    stats: { submits: 0, polls: 0, downloads: 0, tokens: 0, callbacks: 0, refused: generations.refused },
    callbacks: [],
    baseUrl: () => baseUrl,
    isDown: () => down,
    schedule(run, delayMs) {
      const timer = setTimeout(
        () => {
          timers.delete(timer);
          run();
        },
        Math.max(0, delayMs),
      );
      timers.add(timer);
    },
  };
  const webhooks = googlePushes(ctx);
  const routes: Route[] = [
    ...geminiRoutes(ctx, webhooks),
    ...vertexRoutes(ctx, webhooks),
    ...kieRoutes(ctx, () => webhooks.mode),
  ];

  const server = createServer((req, res) => {
    (async () => {
      const url = new URL(req.url ?? '/', 'http://simulator');
      const method = req.method ?? 'GET';
      if (url.pathname.startsWith(CONTROL_PREFIX)) {
        await readBody(req);
        const action = url.pathname.slice(CONTROL_PREFIX.length);
        if (method === 'POST' && (action === 'down' || action === 'up')) down = action === 'down';
        else if (!(method === 'GET' && action === 'state'))
          return sendJson(res, 404, { error: `No control route ${method} ${url.pathname}` });
        return sendJson(res, 200, { down });
      }
      // The push signing keys, where Google publishes its: not recorded, up even while down.
      if (method === 'GET' && KEY_SET_PATHS.includes(url.pathname)) {
        await readBody(req);
        return sendJson(res, 200, await webhooks.keySet());
      }
      let matched: { route: Route; match: RegExpExecArray } | undefined;
      for (const route of routes) {
        const match = route.method === method ? route.pattern.exec(url.pathname) : null;
        if (match) {
          matched = { route, match };
          break;
        }
      }
      if (!matched) {
        await readBody(req);
        return sendJson(res, 404, {
          error: { code: 404, message: `No route ${method} ${url.pathname}`, status: 'NOT_FOUND' },
        });
      }
      const rawBody = await readBody(req);
      const parsed = parseBody(rawBody, req.headers['content-type']);
      const record: RecordedRequest = {
        at: Date.now(),
        shape: matched.route.shape,
        kind: matched.route.kind,
        method,
        path: redactPath(url),
        headers: redactHeaders(req.headers),
        // The token request's assertion is a credential: keep only its grant type.
        body:
          matched.route.kind === 'token' && parsed.body
            ? { ...(parsed.body as object), assertion: '<redacted>' }
            : parsed.body,
      };
      requests.push(record);
      if (requests.length > maxRecorded) requests.splice(0, requests.length - maxRecorded);
      const simRequest = {
        method,
        url,
        headers: req.headers,
        rawBody,
        body: parsed.body,
        bodyError: parsed.error,
        record,
      };
      record.id = matched.route.idOf?.(simRequest, matched.match);
      if (down) unavailable(res, matched.route.shape);
      else await matched.route.handle(simRequest, res, matched.match);
      record.status = res.statusCode;
    })().catch((error: unknown) => {
      if (!res.headersSent) {
        sendJson(res, 500, { error: { code: 500, message: String(error), status: 'INTERNAL' } });
      } else res.destroy();
    });
  });

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, host, resolve));
  const { port } = server.address() as AddressInfo;
  baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  return {
    url: baseUrl,
    stats: ctx.stats,
    requests,
    callbacks: ctx.callbacks,
    get pushes() {
      return webhooks.mode;
    },
    set pushes(mode: PushMode) {
      webhooks.mode = mode;
    },
    injectFault: (fault) => ctx.generations.inject(fault),
    generations: () => ctx.generations.all(),
    down: () => {
      down = true;
    },
    up: () => {
      down = false;
    },
    get isDown() {
      return down;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * An outage as the upstreams show one: their front ends stay reachable and answer 503 (Google's
 * UNAVAILABLE, a kie envelope), rather than refusing connections; which also keeps the control routes up.
 */
function unavailable(res: ServerResponse, shape: Shape): void {
  if (shape === 'kie') {
    sendJson(res, 503, { code: 503, msg: 'Service Unavailable', data: null });
  } else {
    sendJson(res, 503, {
      error: { code: 503, message: 'The service is currently unavailable.', status: 'UNAVAILABLE' },
    });
  }
}
