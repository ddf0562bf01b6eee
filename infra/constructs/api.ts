import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  HttpApi,
  HttpMethod,
  type HttpRoute,
  HttpStage,
  LogGroupLogDestination,
  type ThrottleSettings,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { routes as apiRoutes } from '../../functions/http/api-routes';
import { type FunctionName, functionEntries, UPSTREAM_CALLBACK_PATH } from '../../functions/manifest';

export interface ApiProps {
  /** The functions; each answers the route keys of its manifest entry (`$default`: every other path). */
  functions: Record<FunctionName, IFunction>;
  /** @default burst 100, 50 requests per second */
  throttle?: ThrottleSettings;
}

/** HTTP API $context variables; headers (and so API keys) are never among them. */
const accessLogFields = {
  requestId: '$context.requestId',
  ip: '$context.identity.sourceIp',
  requestTime: '$context.requestTime',
  method: '$context.httpMethod',
  path: '$context.path',
  status: '$context.status',
  responseLength: '$context.responseLength',
  responseLatency: '$context.responseLatency',
  integrationLatency: '$context.integrationLatency',
  integrationError: '$context.integrationErrorMessage',
};

/** The HTTP functions of the manifest, each with its integration and its route keys. */
const httpFunctions = functionEntries.flatMap(([name, spec]) =>
  'http' in spec.trigger ? [{ name, routeKeys: spec.trigger.http }] : [],
);

/** The HTTP API in front of the manifest's HTTP functions (payload format 2.0). */
export class Api extends Construct {
  readonly httpApi: HttpApi;
  readonly url: string;
  /** Where the upstream provider pushes results (kie.ai's callBackUrl); the $default stage has no prefix. */
  readonly upstreamCallbackUrl: string;
  /** `/iam/{proxy+}`: the API's routes under AWS_IAM authorization (issue 19). */
  readonly iamRoutes: HttpRoute[];
  /** Base URL of the IAM routes (add /veo/generate, ...). */
  readonly iamUrl: string;
  /** The one stage (`$default`), named in the IAM routes' execute-api ARNs. */
  readonly stage: HttpStage;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);
    const integrations = new Map(
      httpFunctions.map(({ name }) => [
        name,
        new HttpLambdaIntegration(
          `${name[0]?.toUpperCase()}${name.slice(1)}Integration`,
          props.functions[name],
        ),
      ]),
    );
    const integrationOf = (name: FunctionName) => {
      const integration = integrations.get(name);
      if (!integration) throw new Error(`${name} has no HTTP trigger`);
      return integration;
    };
    const byDefault = httpFunctions.find(({ routeKeys }) => routeKeys.includes('$default'));
    this.httpApi = new HttpApi(this, 'HttpApi', {
      description: 'Veo 3.1 video generation, kie.ai-compatible',
      // The $default route: the api function routes by itself and answers unknown paths with a 404.
      defaultIntegration: byDefault && integrationOf(byDefault.name),
      // Our own $default stage below, because the built-in one cannot be throttled.
      createDefaultStage: false,
    });
    // The same route keys the local gateway routes (local/stack.ts), from the same manifest.
    for (const { name, routeKeys } of httpFunctions) {
      for (const routeKey of routeKeys.filter((key) => key !== '$default')) {
        const [method, path] = routeKey.split(' ') as [keyof typeof HttpMethod, string];
        this.httpApi.addRoutes({ path, methods: [HttpMethod[method]], integration: integrationOf(name) });
      }
    }
    // The same routes behind SigV4 (AWS_IAM): the api function maps the verified principal to a key.
    const api = httpFunctions.find(({ name }) => name === 'api');
    this.iamRoutes = api
      ? this.httpApi.addRoutes({
          path: '/iam/{proxy+}',
          methods: [HttpMethod.GET, HttpMethod.POST],
          integration: integrationOf(api.name),
          authorizer: new HttpIamAuthorizer(),
        })
      : [];
    const stage = new HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      // Per-key rate limits live in the api function; this is only a ceiling for the stage as a whole.
      throttle: props.throttle ?? { burstLimit: 100, rateLimit: 50 },
      // One JSON line per request (request id, caller IP, route, status, latency), API keys never logged.
      accessLogSettings: {
        destination: new LogGroupLogDestination(
          new LogGroup(this, 'AccessLogs', {
            retention: RetentionDays.TWO_WEEKS,
            removalPolicy: RemovalPolicy.DESTROY,
          }),
        ),
        format: AccessLogFormat.custom(JSON.stringify(accessLogFields)),
      },
    });
    // cdk-nag: API Gateway authorizers do not fit any route. The api function authenticates the
    // kie-style Bearer API key itself (hashed lookup, per-key rate limit); the upstream callback checks
    // the provider's signature; a 404 for unknown paths needs no key; the pages are public (the key is
    // pasted into them and sent by the browser to the api routes).
    Validations.of(this.httpApi).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'API keys are checked by the api function; upstream callbacks by their provider signature; the site pages are public',
    });
    this.stage = stage;
    this.url = stage.url;
    this.iamUrl = `${stage.url}iam/api/v1`;
    this.upstreamCallbackUrl = `${this.httpApi.apiEndpoint}${UPSTREAM_CALLBACK_PATH}`;
  }
}

/**
 * Lets `grantee` (a Lambda's role, a state machine's role) call the IAM routes: execute-api:Invoke on each
 * route the api function serves (`routes`), under /iam on this API's stage. Each ARN is exact, no `*`:
 * the grant is least privilege as cdk-nag (AwsSolutions-IAM5) asks, and the {proxy+} route cannot be used
 * to reach anything else.
 */
export function grantIamInvoke(api: Api, grantee: IGrantable): Grant {
  return Grant.addToPrincipal({
    grantee,
    actions: ['execute-api:Invoke'],
    resourceArns: Object.keys(apiRoutes).map((routeKey) => {
      const [method, path] = routeKey.split(' ') as [string, string];
      return api.httpApi.arnForExecuteApi(method, `/iam${path}`, api.stage.stageName);
    }),
  });
}
