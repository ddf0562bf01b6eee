import { Duration, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import { Rule } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import {
  DefinitionBody,
  IntegrationPattern,
  JsonPath,
  LogLevel,
  StateMachine,
  TaskInput,
  Timeout,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { VeoServerless } from '../../infra/veo-serverless';

/**
 * The example of docs-aws-integration.md ("Use it from other AWS services"), as code: another app in the
 * same account that (1) routes finished videos to its queue with an EventBridge rule, (2) runs a state
 * machine step "generate a video and wait for it" with `.waitForTaskToken`, (3) calls the IAM routes from
 * a Lambda with its role instead of an API key. test/infra/aws-integration.test.ts synthesizes it.
 */
export class VideoPipelineStack extends Stack {
  readonly veo: VeoServerless;
  readonly submitter: LambdaFunction;
  readonly stateMachine: StateMachine;

  constructor(scope: Construct, id: string, props: StackProps & { keyHash: string }) {
    super(scope, id, props);
    const submitterRoleArn = `arn:aws:iam::${this.account}:role/video-pipeline-submitter`;
    this.veo = new VeoServerless(this, 'Veo', {
      provider: 'kie',
      providerSecretArn: `arn:aws:secretsmanager:${this.region}:${this.account}:secret:veo/kie-AbC123`,
      // The submitter's role spends the credits of this key; its tasks may carry a task token.
      iamPrincipals: JSON.stringify({ [submitterRoleArn]: props.keyHash }),
      taskTokenKeys: props.keyHash,
    });

    // (1) Every finished video lands in our queue; no public endpoint, no webhook secret.
    const finished = new Queue(this, 'FinishedVideos', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    Validations.of(finished).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'example target; a real one adds its DLQ',
    });
    new Rule(this, 'VideoSucceeded', {
      eventBus: this.veo.eventBus,
      eventPattern: VeoServerless.taskEvents({ detailType: ['Veo Task Succeeded', 'Veo Task Failed'] }),
      targets: [new SqsQueue(finished)],
    });

    // (3) A Lambda that submits with its role: SigV4-signed POST to the IAM route, the task token in the body.
    this.submitter = new LambdaFunction(this, 'Submitter', {
      runtime: Runtime.NODEJS_24_X,
      handler: 'index.handler',
      timeout: Duration.seconds(30),
      code: Code.fromInline(submitterSource),
      environment: { VEO_IAM_URL: this.veo.iamUrl },
    });
    this.veo.grantInvoke(this.submitter);

    // (2) "Generate a video and wait for it": the step ends when the service answers the token.
    const generate = new LambdaInvoke(this, 'GenerateVideo', {
      lambdaFunction: this.submitter,
      integrationPattern: IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      payload: TaskInput.fromObject({
        prompt: JsonPath.stringAt('$.prompt'),
        taskToken: JsonPath.taskToken,
      }),
      // The service answers within the task's deadline (budget); this is the step's own ceiling.
      taskTimeout: Timeout.duration(Duration.hours(1)),
      resultPath: '$.video',
    });
    this.stateMachine = new StateMachine(this, 'VideoPipeline', {
      definitionBody: DefinitionBody.fromChainable(generate),
      tracingEnabled: true,
      logs: {
        destination: new LogGroup(this, 'PipelineLogs', { retention: RetentionDays.ONE_MONTH }),
        level: LogLevel.ALL,
      },
    });
  }
}

/** The submitter's code: signs with its role's credentials (SigV4, service execute-api). */
const submitterSource = `
const { SignatureV4 } = require('@smithy/signature-v4');
const { Sha256 } = require('@aws-crypto/sha256-js');
const { defaultProvider } = require('@aws-sdk/credential-provider-node');
exports.handler = async ({ prompt, taskToken }) => {
  const url = new URL(process.env.VEO_IAM_URL + '/veo/generate');
  const body = JSON.stringify({ prompt, model: 'veo3_fast', taskToken });
  const signer = new SignatureV4({ service: 'execute-api', region: process.env.AWS_REGION, credentials: defaultProvider(), sha256: Sha256 });
  const signed = await signer.sign({ method: 'POST', protocol: 'https:', hostname: url.hostname, path: url.pathname,
    headers: { host: url.hostname, 'content-type': 'application/json' }, body });
  const response = await fetch(url, { method: 'POST', headers: signed.headers, body });
  const answer = await response.json();
  if (answer.code !== 200) throw new Error('Veo.' + answer.code + ': ' + answer.msg);
  return answer.data; // the step keeps waiting for the token, answered when the task ends
};`;
