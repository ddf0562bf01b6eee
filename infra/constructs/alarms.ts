import { Duration } from 'aws-cdk-lib';
import { ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { QueueName } from './queues';

export interface AlarmsProps {
  deadLetterQueues: Record<QueueName, Queue>;
}

/**
 * One alarm per dead-letter queue: a message there is a task that stopped moving (or a callback
 * that was never delivered). No actions yet; wire an SNS topic to them when there is someone to page.
 */
export class Alarms extends Construct {
  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
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
  }
}
