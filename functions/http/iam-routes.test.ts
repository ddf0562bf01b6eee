import { describe, expect, it } from 'vitest';
import { httpEvent } from '../../test/support/http-events';
import { addKey, testWorld } from '../../test/support/test-deps';
import { roleArnOf } from '../core/api-keys';
import { createApiHandler, LOCAL_IAM_PRINCIPAL_HEADER } from './api-routes';

const role = 'arn:aws:iam::123456789012:role/VideoPipeline';
const session = 'arn:aws:sts::123456789012:assumed-role/VideoPipeline/states-execution-1';

/** An event as API Gateway sends it after verifying SigV4 on an AWS_IAM route (payload 2.0). */
function signedBy(userArn: string, path: string, method = 'GET', body?: unknown) {
  const event = httpEvent(
    path,
    method,
    { 'content-type': 'application/json' },
    body === undefined ? undefined : JSON.stringify(body),
  );
  return {
    ...event,
    requestContext: {
      ...event.requestContext,
      authorizer: { iam: { userArn, accountId: '123456789012', callerId: 'AROA:x', userId: 'AROA:x' } },
    },
  };
}

async function world(local = false) {
  const w = testWorld();
  const key = await addKey(w, 700, { name: 'pipeline' });
  w.deps.settings = {
    ...w.deps.settings,
    iamPrincipals: { [role]: key.keyHash },
    localIamPrincipalHeader: local,
  };
  return { w, key, api: createApiHandler(w.deps) };
}

const json = (result: { body?: string }) => JSON.parse(result.body ?? '{}');

describe('IAM-authorized routes (/iam/api/v1/...)', () => {
  it("maps a role's session to its key: its credits, its tasks", async () => {
    const { w, key, api } = await world();
    expect(json(await api(signedBy(session, '/iam/api/v1/chat/credit')))).toMatchObject({
      code: 200,
      data: 700,
    });
    const submitted = json(
      await api(signedBy(session, '/iam/api/v1/veo/generate', 'POST', { prompt: 'a cat' })),
    );
    expect(submitted.code).toBe(200);
    expect((await w.tasks.get(submitted.data.taskId))?.keyHash).toBe(key.keyHash);
    expect((await w.apiKeys.get(key.keyHash))?.credits).toBe(640);
  });

  it('refuses an unmapped principal, and a Bearer key on the IAM routes, with 401', async () => {
    const { w, api } = await world();
    const other = json(
      await api(signedBy('arn:aws:iam::123456789012:role/Other', '/iam/api/v1/chat/credit')),
    );
    expect([other.code, other.msg]).toEqual([
      401,
      'You do not have access permissions: this IAM principal is not mapped to an API key',
    ]);
    const bearer = json(
      await api(httpEvent('/iam/api/v1/chat/credit', 'GET', { authorization: 'Bearer x' })),
    );
    expect(bearer.code).toBe(401);
    expect(w.queues.generated).toEqual([]);
  });

  it('trusts the local stand-in header only where the local stack turned it on', async () => {
    const local = await world(true);
    const viaHeader = httpEvent('/iam/api/v1/chat/credit', 'GET', { [LOCAL_IAM_PRINCIPAL_HEADER]: role });
    expect(json(await local.api(viaHeader))).toMatchObject({ code: 200, data: 700 });
    const deployed = await world(false);
    expect(json(await deployed.api(viaHeader)).code).toBe(401);
  });

  it('reads an assumed-role session as its role, and leaves other ARNs as they are', () => {
    expect(roleArnOf(session)).toBe(role);
    expect(roleArnOf('arn:aws-cn:sts::123456789012:assumed-role/R/s')).toBe(
      'arn:aws-cn:iam::123456789012:role/R',
    );
    expect(roleArnOf('arn:aws:iam::123456789012:user/alice')).toBe('arn:aws:iam::123456789012:user/alice');
  });
});
