import type { TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import type { CreditChange } from '../../core/ports';

export type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/**
 * The transaction item that moves credits on an API key, written together with the task change it pays
 * for (or gives back). A charge only succeeds while the balance covers it; the old item comes back on
 * failure so the caller can say what the balance was.
 */
export function creditUpdate(
  apiKeysTable: string,
  change: CreditChange,
  direction: 'charge' | 'refund',
): TransactItem {
  const charge = direction === 'charge';
  return {
    Update: {
      TableName: apiKeysTable,
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
