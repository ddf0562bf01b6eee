import { Duration } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  MathExpression,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  METRICS_NAMESPACE,
  METRICS_SERVICE,
} from '../../functions/adapters/observability/powertools-metrics';
import type { QueueName } from './queues';

export interface AlarmsProps {
  queues: Record<QueueName, Queue>;
  deadLetterQueues: Record<QueueName, Queue>;
  functions: Record<string, IFunction>;
  httpApi: HttpApi;
  /** Unique per account and region. */
  dashboardName: string;
  /** The pool's upstream names (context `upstreams`; one upstream: the provider's name). */
  upstreams: readonly string[];
  /**
   * An alarm per upstream whose circuit stays open: for a pool. With one upstream, its outage already
   * shows in the failure rate and the generate queue's oldest message.
   */
  circuitAlarms: boolean;
}

/** An upstream whose circuit stays open this long (routing keeps finding it open) raises its alarm. */
export const CIRCUIT_OPEN_ALARM_MINUTES = 5;

/**
 * How old the oldest message of each queue may get. generate and reserved: tasks wait for the upstream's
 * submit quota (reserved: up to ten of its windows ahead), so a burst legitimately queues for minutes;
 * poll: a poll is due every few seconds, and Veo takes up to 6 min, so 20 min means the poller is stuck;
 * notify: callback retries are delayed messages (up to many minutes apart), so only 45 min means the
 * notifier stopped.
 */
export const oldestMessageMinutes: Record<QueueName, number> = {
  generate: 15,
  reserved: 15,
  poll: 20,
  notify: 45,
};

/** Failed / (succeeded + failed) above this over 15 min: the upstream or our pipeline is broken. */
export const FAILURE_RATE_THRESHOLD = 20;

/** Tasks, renditions and dead letters the sweeper may end in 15 min before its alarm goes off. */
export const SWEPT_THRESHOLD = 0;

/** A business metric (functions/adapters/observability/powertools-metrics.ts), totalled over models. */
function business(metricName: string, statistic = 'Sum', period = Duration.minutes(15)): Metric {
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { service: METRICS_SERVICE },
    statistic,
    period,
  });
}

/** A metric of one upstream of the pool (core/pool.ts emits them with the dimension `upstream`). */
function ofUpstream(metricName: string, upstream: string, statistic = 'Sum', period = Duration.minutes(1)) {
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { service: METRICS_SERVICE, upstream },
    statistic,
    period,
  });
}

/**
 * Alarms (no actions yet; wire an SNS topic to them when there is someone to page) and the one
 * dashboard (named after the stack by default).
 */
export class Alarms extends Construct {
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    // A message in a dead-letter queue is a task that stopped moving (or a callback never delivered).
    for (const [name, dlq] of Object.entries(props.deadLetterQueues)) {
      dlq
        .metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' })
        .createAlarm(this, `${name}DlqNotEmpty`, {
          alarmDescription: `Messages in the ${name} dead-letter queue: they failed ${name} processing repeatedly`,
          threshold: 0,
          comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        });
    }
    for (const [name, queue] of Object.entries(props.queues) as [QueueName, Queue][]) {
      const minutes = oldestMessageMinutes[name];
      queue
        .metricApproximateAgeOfOldestMessage({ period: Duration.minutes(1), statistic: 'Maximum' })
        .createAlarm(this, `${name}OldestMessage`, {
          alarmDescription: `The oldest ${name} message waited over ${minutes} min: its consumer is stuck or throttled`,
          threshold: minutes * 60,
          comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 5,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        });
    }
    new MathExpression({
      expression: '100 * failed / (succeeded + failed)',
      usingMetrics: { failed: business('TasksFailed'), succeeded: business('TasksSucceeded') },
      period: Duration.minutes(15),
      label: 'Failure rate (%)',
    }).createAlarm(this, 'FailureRate', {
      alarmDescription: `Over ${FAILURE_RATE_THRESHOLD}% of the tasks that ended in 15 min failed (rejections excluded)`,
      threshold: FAILURE_RATE_THRESHOLD,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      // No task ended, no data: nothing is failing.
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });

    // The sweeper is the backstop (issue 14): anything it ends or drains is a task a stage let fall.
    new MathExpression({
      expression: 'tasks + renditions + deadLetters',
      usingMetrics: {
        tasks: business('TasksSwept'),
        renditions: business('RenditionsSwept'),
        deadLetters: business('DeadLettersSwept'),
      },
      period: Duration.minutes(15),
      label: 'Swept by the sweeper',
    }).createAlarm(this, 'Swept', {
      alarmDescription:
        'The sweeper ended overdue tasks or renditions, or drained dead letters, in the last 15 min: a stage is dropping work (see the sweeper\'s "swept" log lines)',
      threshold: SWEPT_THRESHOLD,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });

    // The worker counts UpstreamCircuitOpen each time routing finds the circuit open; minutes in a row
    // of it mean the upstream stays down while work waits for it.
    for (const upstream of props.circuitAlarms ? props.upstreams : []) {
      ofUpstream('UpstreamCircuitOpen', upstream).createAlarm(this, `CircuitOpen-${upstream}`, {
        alarmDescription: `The circuit of upstream ${upstream} stayed open for over ${CIRCUIT_OPEN_ALARM_MINUTES} min: it keeps failing, its work goes elsewhere or waits`,
        threshold: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: CIRCUIT_OPEN_ALARM_MINUTES,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
    }

    const minute = Duration.minutes(1);
    const perFunction = (metric: (fn: IFunction) => IMetric) => Object.values(props.functions).map(metric);
    const graph = (title: string, left: IMetric[]) => new GraphWidget({ title, left, width: 8 });
    this.dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      widgets: [
        [
          graph(
            'Tasks',
            ['TasksSubmitted', 'TasksSucceeded', 'TasksFailed', 'TasksRejected'].map((name) =>
              business(name, 'Sum', minute),
            ),
          ),
          graph('Upstream latency (ms)', [
            business('UpstreamLatency', 'p50', minute),
            business('UpstreamLatency', 'p90', minute),
          ]),
          graph('Callback failures', [business('CallbackFailures', 'Sum', minute)]),
        ],
        [
          graph(
            'Queue depth',
            Object.values(props.queues).map((q) =>
              q.metricApproximateNumberOfMessagesVisible({ period: minute }),
            ),
          ),
          graph(
            'Oldest message age (s)',
            Object.values(props.queues).map((q) =>
              q.metricApproximateAgeOfOldestMessage({ period: minute, statistic: 'Maximum' }),
            ),
          ),
          graph(
            'Dead-letter queue depth',
            Object.values(props.deadLetterQueues).map((q) =>
              q.metricApproximateNumberOfMessagesVisible({ period: minute, statistic: 'Maximum' }),
            ),
          ),
        ],
        [
          graph(
            'Lambda errors',
            perFunction((fn) => fn.metricErrors({ period: minute })),
          ),
          graph(
            'Lambda throttles',
            perFunction((fn) => fn.metricThrottles({ period: minute })),
          ),
          graph(
            'Lambda duration p90 (ms)',
            perFunction((fn) => fn.metricDuration({ period: minute, statistic: 'p90' })),
          ),
        ],
        [
          graph('API 4xx / 5xx', [
            props.httpApi.metricClientError({ period: minute }),
            props.httpApi.metricServerError({ period: minute }),
          ]),
          graph('API latency p90 (ms)', [props.httpApi.metricLatency({ period: minute, statistic: 'p90' })]),
          graph(
            'Swept by the sweeper',
            // PushesNotHeard: tasks the sweeper started polling as their upstream's push did not come
            // (no alarm: a generation longer than PUSH_CHECK_SECONDS is one; a steady line is a push outage).
            ['TasksSwept', 'RenditionsSwept', 'DeadLettersSwept', 'PushesNotHeard'].map((name) =>
              business(name, 'Sum', minute),
            ),
          ),
        ],
        [
          graph(
            'Upstream submits, refusals, failures',
            props.upstreams.flatMap((name) =>
              ['UpstreamSubmits', 'UpstreamRefusals', 'UpstreamFailures'].map((metric) =>
                ofUpstream(metric, name),
              ),
            ),
          ),
          graph(
            'Upstream submit latency p90 (ms)',
            props.upstreams.map((name) => ofUpstream('UpstreamSubmitLatency', name, 'p90')),
          ),
          graph(
            'Upstream circuits (open seen / opened)',
            props.upstreams.flatMap((name) => [
              ofUpstream('UpstreamCircuitOpen', name),
              ofUpstream('UpstreamCircuitOpened', name),
            ]),
          ),
        ],
      ],
    });
  }
}
