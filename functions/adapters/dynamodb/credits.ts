import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { ApiKeyRefusedError, InsufficientCreditsError } from '../../core/errors';
import type { CreditChange } from '../../core/ports';

export type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/**
 * The transaction item that moves credits on an API key, written together with the task change it pays
 * for (or gives back). A charge only succeeds while the balance covers it and the key is not revoked (the
 * API authenticates from a short cache); the old item comes back on failure so the caller can say why.
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
        ? 'attribute_exists(keyHash) AND credits >= :amount AND (attribute_not_exists(revoked) OR revoked <> :revoked)'
        : 'attribute_exists(keyHash)',
      ExpressionAttributeValues: charge
        ? { ':delta': -change.credits, ':amount': change.credits, ':revoked': true }
        : { ':delta': change.credits },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

/** Why a charge's condition failed, from the key item it returned: revoked or gone, or short of credits. */
export function chargeRefusal(item: Record<string, AttributeValue> | undefined): Error {
  if (!item || item.revoked?.BOOL === true) return new ApiKeyRefusedError();
  return new InsufficientCreditsError(Number(item.credits?.N ?? 0));
}
