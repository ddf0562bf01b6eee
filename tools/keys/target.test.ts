import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CloudFormationClient,
  CloudFormationServiceException,
  DescribeStacksCommand,
} from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type PublishedStack, publishStack, readPublishedStack } from '../../local/stack-file';
import { KeysError } from './args';
import { openTarget, stackTable } from './target';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keys-target-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const published = (overrides: Partial<PublishedStack> = {}): PublishedStack => ({
  pid: process.pid,
  url: 'http://127.0.0.1:8080',
  region: 'us-east-1',
  dynamodbEndpoint: 'http://127.0.0.1:45678',
  tables: { tasks: 'veo-tasks', apiKeys: 'veo-api-keys', counters: 'veo-counters' },
  startedAt: new Date().toISOString(),
  ...overrides,
});

/** The pid of a process that has already ended. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  return child.pid as number;
}

describe('the published local stack', () => {
  it('is written whole, read back, and removed by the stack that wrote it', async () => {
    const file = join(dir, 'nested', 'local-stack.json');
    const unpublish = await publishStack(file, published());
    expect(await readPublishedStack(file)).toEqual(published({ startedAt: expect.any(String) }));
    await unpublish();
    expect(existsSync(file)).toBe(false);
    expect(await readPublishedStack(file)).toBeUndefined();
  });

  it('is left alone by a stack whose file another stack has since replaced', async () => {
    const file = join(dir, 'replaced.json');
    const unpublishFirst = await publishStack(file, published());
    await publishStack(file, published({ dynamodbEndpoint: 'http://127.0.0.1:50000' }));
    await unpublishFirst();
    expect((await readPublishedStack(file))?.dynamodbEndpoint).toBe('http://127.0.0.1:50000');
  });

  it('refuses a file that does not describe a stack', async () => {
    const file = join(dir, 'junk.json');
    await writeFile(file, '{"pid": "nope"');
    await expect(readPublishedStack(file)).rejects.toThrow(/does not describe a local stack; delete it/);
  });
});

describe('openTarget', () => {
  it('opens the running local stack by default, on its DynamoDB Local and key table', async () => {
    const file = join(dir, 'running.json');
    await publishStack(file, published());
    for (const target of [undefined, { kind: 'local' as const }]) {
      const open = await openTarget(target, file);
      expect(open).toMatchObject({
        table: 'veo-api-keys',
        description: 'local stack at http://127.0.0.1:8080',
        apiUrl: 'http://127.0.0.1:8080/api/v1',
      });
      open.close();
    }
  });

  it('says how to choose a target when no local stack runs', async () => {
    const missing = join(dir, 'missing.json');
    await expect(openTarget(undefined, missing)).rejects.toThrow(
      /No target: the local stack is not running .* `npm start`, or name a deployed stack \(--stack VeoServerless\) or a table \(--table NAME\)/,
    );
    await expect(openTarget({ kind: 'local' }, missing)).rejects.toThrow(/The local stack is not running/);
  });

  it('sees through a file left by a stack that was killed', async () => {
    const file = join(dir, 'stale.json');
    const pid = deadPid();
    await publishStack(file, published({ pid }));
    await expect(openTarget(undefined, file)).rejects.toThrow(
      new RegExp(
        `\\(pid ${pid}\\) is no longer running. Start it with \`npm start\`, or name a deployed stack`,
      ),
    );
  });

  it('opens a table by name, on an endpoint when given one', async () => {
    const open = await openTarget(
      { kind: 'table', table: 'keys', endpoint: 'http://127.0.0.1:8000' },
      join(dir, 'unused'),
    );
    expect(open).toMatchObject({ table: 'keys', description: 'DynamoDB at http://127.0.0.1:8000' });
    expect(open.apiUrl).toBeUndefined();
    open.close();
  });
});

describe('stackTable', () => {
  const cloudFormation = mockClient(CloudFormationClient);
  afterEach(() => cloudFormation.reset());
  afterAll(() => cloudFormation.restore());

  it("reads the key table from the deployed stack's ApiKeysTableName output", async () => {
    cloudFormation.on(DescribeStacksCommand, { StackName: 'VeoServerless' }).resolves({
      Stacks: [
        {
          StackName: 'VeoServerless',
          StackStatus: 'UPDATE_COMPLETE',
          CreationTime: new Date(),
          Outputs: [
            { OutputKey: 'ApiUrl', OutputValue: 'https://example.execute-api.eu-west-1.amazonaws.com' },
            { OutputKey: 'ApiKeysTableName', OutputValue: 'VeoServerless-ApiKeys1234-ABCD' },
          ],
        },
      ],
    });
    expect(await stackTable('VeoServerless', 'eu-west-1')).toBe('VeoServerless-ApiKeys1234-ABCD');
  });

  it('says so when the stack has no such output', async () => {
    cloudFormation.on(DescribeStacksCommand).resolves({
      Stacks: [{ StackName: 'Other', StackStatus: 'CREATE_COMPLETE', CreationTime: new Date(), Outputs: [] }],
    });
    await expect(stackTable('Other', 'eu-west-1')).rejects.toThrow(
      /Stack Other has no ApiKeysTableName output \(status CREATE_COMPLETE\)/,
    );
  });

  it('says so when there is no such stack in the region', async () => {
    cloudFormation.on(DescribeStacksCommand).rejects(
      new CloudFormationServiceException({
        name: 'ValidationError',
        message: 'Stack with id Nope does not exist',
        $fault: 'client',
        $metadata: {},
      }),
    );
    const refused = stackTable('Nope', 'eu-west-1');
    await expect(refused).rejects.toBeInstanceOf(KeysError);
    await expect(refused).rejects.toThrow('No stack named Nope in eu-west-1; try --region');
  });
});
