import { readFileSync } from 'node:fs';
import { Duration, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import { Rule } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Alias, Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
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

/** The submitter's role: a fixed name, so that iamPrincipals (a synth-time setting) can name its ARN. */
export const submitterRoleName = 'video-pipeline-submitter';

/** The submitter's code (CommonJS, inline): the IAM caller, run by test/infra/aws-integration.test.ts. */
export const submitterSourceFile = new URL('./example-submitter.cjs', import.meta.url);

/**
 * The README's "Use it from other AWS services", as code (the README quotes the `#region readme-*` parts):
 * another app in the same account that (1) routes finished videos to its queue with an EventBridge rule,
 * (2) runs a state machine step "generate a video and wait for it" with `.waitForTaskToken`, (3) calls the
 * IAM routes from a Lambda with its role instead of an API key. test/infra/aws-integration.test.ts
 * synthesizes it, checks it with cdk-nag and runs the submitter's code.
 */
export class VideoPipelineStack extends Stack {
  readonly veo: VeoServerless;
  readonly submitter: LambdaFunction;
  readonly stateMachine: StateMachine;

  constructor(scope: Construct, id: string, props: StackProps & { keyHash: string }) {
    super(scope, id, props);
    const submitterRoleArn = `arn:aws:iam::${this.account}:role/${submitterRoleName}`;
    const veo = new VeoServerless(this, 'Veo', {
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
    // #region readme-rule
    new Rule(this, 'VideoSucceeded', {
      eventBus: veo.eventBus,
      eventPattern: VeoServerless.taskEvents({ detailType: ['Veo Task Succeeded', 'Veo Task Failed'] }),
      targets: [new SqsQueue(finished)],
    });
    // #endregion

    // (3) A Lambda that submits with its role: SigV4-signed POST to the IAM route, the task token in the body.
    // #region readme-iam-caller
    // Its own role, named as iamPrincipals maps it, holding only what it uses: its log group, the IAM routes.
    const role = new Role(this, 'SubmitterRole', {
      roleName: submitterRoleName,
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
    });
    const logGroup = new LogGroup(this, 'SubmitterLogs', { retention: RetentionDays.ONE_MONTH });
    logGroup.grantWrite(role);
    const submitter = new LambdaFunction(this, 'Submitter', {
      runtime: Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: Code.fromInline(readFileSync(submitterSourceFile, 'utf8')),
      environment: { VEO_IAM_URL: veo.iamUrl },
      timeout: Duration.seconds(30),
      role,
      logGroup,
    });
    veo.grantInvoke(submitter); // execute-api:Invoke on each /iam route, by its exact ARN
    // #endregion

    // (2) "Generate a video and wait for it": the step ends when the service answers the token.
    // #region readme-state-machine-step
    const generate = new LambdaInvoke(this, 'GenerateVideo', {
      // An alias: the state machine may invoke it alone (a bare function grants all its versions, `:*`).
      lambdaFunction: new Alias(this, 'SubmitterLive', {
        aliasName: 'live',
        version: submitter.currentVersion,
      }),
      integrationPattern: IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      payload: TaskInput.fromObject({
        prompt: JsonPath.stringAt('$.prompt'),
        taskToken: JsonPath.taskToken,
      }),
      // The service answers within the task's deadline; this is the step's own ceiling.
      taskTimeout: Timeout.duration(Duration.hours(1)),
      resultPath: '$.video',
    });
    // #endregion
    const stateMachine = new StateMachine(this, 'VideoPipeline', {
      definitionBody: DefinitionBody.fromChainable(generate),
      tracingEnabled: true,
      logs: {
        destination: new LogGroup(this, 'PipelineLogs', { retention: RetentionDays.ONE_MONTH }),
        level: LogLevel.ALL,
      },
    });
    // What AwsSolutions-SF1/SF2 ask for (logging, X-Ray) needs actions that take no resource: CloudWatch
    // Logs' log delivery (logs:CreateLogDelivery, ...) and xray:PutTraceSegments, ... exist only on "*".
    Validations.of(stateMachine).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'log delivery and X-Ray actions support no resource-level permissions (AWS service authorization reference)',
    });

    this.veo = veo;
    this.submitter = submitter;
    this.stateMachine = stateMachine;
  }
}
