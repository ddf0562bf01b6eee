import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { type CreditChange, InsufficientCreditsError, type TaskStore } from '../../core/ports';
import type { CallbackAttempt, Task, TaskStatus } from '../../core/task';

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

export interface DynamoTaskStoreOptions {
  client: DynamoDBDocumentClient;
  tasksTable: string;
  apiKeysTable: string;
}

/** Tasks in DynamoDB; credits move in the same transaction as the task write they pay for. */
export class DynamoTaskStore implements TaskStore {
  constructor(private readonly options: DynamoTaskStoreOptions) {}

  async createCharged(task: Task, charge: CreditChange): Promise<void> {
    const { client, tasksTable } = this.options;
    try {
      await client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: { TableName: tasksTable, Item: task, ConditionExpression: 'attribute_not_exists(taskId)' },
            },
            this.creditUpdate(charge, 'charge'),
          ],
        }),
      );
    } catch (error) {
      const reason =
        error instanceof TransactionCanceledException ? error.CancellationReasons?.[1] : undefined;
      if (reason?.Code === 'ConditionalCheckFailed') {
        const balance = Number(reason.Item?.credits?.N ?? 0);
        throw new InsufficientCreditsError(balance);
      }
      throw error;
    }
  }

  async get(taskId: string): Promise<Task | undefined> {
    const out = await this.options.client.send(
      new GetCommand({ TableName: this.options.tasksTable, Key: { taskId }, ConsistentRead: true }),
    );
    return out.Item as Task | undefined;
  }

  async transition(
    taskId: string,
    from: TaskStatus,
    patch: Partial<Omit<Task, 'taskId' | 'keyHash'>>,
    refund?: CreditChange,
  ): Promise<boolean> {
    const entries = Object.entries(patch).filter(([, v]) => v !== undefined);
    const update: TransactItem['Update'] & {} = {
      TableName: this.options.tasksTable,
      Key: { taskId },
      UpdateExpression: `SET ${entries.map((_, i) => `#f${i} = :v${i}`).join(', ')}`,
      ConditionExpression: '#status = :from',
      ExpressionAttributeNames: {
        '#status': 'status',
        ...Object.fromEntries(entries.map(([k], i) => [`#f${i}`, k])),
      },
      ExpressionAttributeValues: {
        ':from': from,
        ...Object.fromEntries(entries.map(([, v], i) => [`:v${i}`, v])),
      },
    };
    try {
      if (!refund || refund.credits === 0) {
        await this.options.client.send(new UpdateCommand(update));
      } else {
        await this.options.client.send(
          new TransactWriteCommand({
            TransactItems: [{ Update: update }, this.creditUpdate(refund, 'refund')],
          }),
        );
      }
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      if (
        error instanceof TransactionCanceledException &&
        error.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed'
      ) {
        return false;
      }
      throw error;
    }
  }

  /** Moves credits on the key; a charge only succeeds while the balance covers it. */
  private creditUpdate(change: CreditChange, direction: 'charge' | 'refund'): TransactItem {
    const charge = direction === 'charge';
    return {
      Update: {
        TableName: this.options.apiKeysTable,
        Key: { keyHash: change.keyHash },
        UpdateExpression: 'ADD credits :delta',
        ConditionExpression: charge
          ? 'attribute_exists(keyHash) AND credits >= :amount'
          : 'attribute_exists(keyHash)',
        ExpressionAttributeValues: charge
          ? { ':delta': -change.credits, ':amount': change.credits }
          : { ':delta': change.credits },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    };
  }

  async recordCallback(taskId: string, attempt: CallbackAttempt): Promise<void> {
    await this.options.client.send(
      new UpdateCommand({
        TableName: this.options.tasksTable,
        Key: { taskId },
        UpdateExpression: 'SET callbacks = list_append(if_not_exists(callbacks, :none), :attempt)',
        ConditionExpression: 'attribute_exists(taskId)',
        ExpressionAttributeValues: { ':none': [], ':attempt': [attempt] },
      }),
    );
  }
}
