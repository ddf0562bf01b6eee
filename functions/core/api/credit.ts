import type { DepsFor } from '../deps';
import { errors } from '../errors';
import type { ApiKey } from '../ports';

/** GET /chat/credit: the caller's remaining credits, read consistently. */
export async function creditBalance(deps: DepsFor<'apiKeys'>, key: ApiKey): Promise<number> {
  const fresh = await deps.apiKeys.get(key.keyHash);
  // The key may come from the API's short authentication cache: the balance read tells a revocation at once.
  if (!fresh || fresh.revoked) throw errors.unauthorized();
  return fresh.credits;
}
