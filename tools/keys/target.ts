import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoApiKeyStore } from '../../functions/adapters/dynamodb/api-key-store';
import type { ApiKeyAdmin } from '../../functions/core/ports';
import { isAlive, readPublishedStack } from '../../local/stack-file';
import { KeysError, type Target } from './args';

/** The key table the tool works on, through the same adapter the functions use. */
export interface OpenTarget {
  store: ApiKeyAdmin;
  table: string;
  /** Where the table is, for the operator: "local stack at http://…", "stack VeoServerless", "region …". */
  description: string;
  /** The API's base URL when known (the local stack), for the hints the tool prints. */
  apiUrl?: string;
  close(): void;
}

/** CDK output of the deployed stack that names the key table (infra/veo-stack.ts). */
export const tableOutputKey = 'ApiKeysTableName';

/** DynamoDB Local takes any credentials; these keep the SDK from looking for real ones. */
const localCredentials = () => ({ accessKeyId: 'local', secretAccessKey: 'local' });

export async function openTarget(target: Target | undefined, stackFile: string): Promise<OpenTarget> {
  if (target === undefined || target.kind === 'local') return openLocal(stackFile, target === undefined);
  if (target.kind === 'table') {
    return openTable({
      table: target.table,
      region: target.region,
      endpoint: target.endpoint,
      description:
        target.endpoint !== undefined
          ? `DynamoDB at ${target.endpoint}`
          : `region ${target.region ?? 'from the AWS configuration'}`,
    });
  }
  const table = await stackTable(target.stack, target.region);
  return openTable({
    table,
    region: target.region,
    description: `stack ${target.stack}${target.region ? ` in ${target.region}` : ''}`,
  });
}

async function openLocal(stackFile: string, byDefault: boolean): Promise<OpenTarget> {
  const alternatives = 'or name a deployed stack (--stack VeoServerless) or a table (--table NAME)';
  const stack = await readPublishedStack(stackFile);
  if (stack === undefined) {
    throw new KeysError(
      byDefault
        ? `No target: the local stack is not running (no ${stackFile}). Start it with \`npm start\`, ${alternatives}`
        : `The local stack is not running (no ${stackFile}); start it with \`npm start\``,
    );
  }
  if (!isAlive(stack)) {
    throw new KeysError(
      `The local stack in ${stackFile} (pid ${stack.pid}) is no longer running. Start it with \`npm start\`` +
        (byDefault ? `, ${alternatives}` : ''),
    );
  }
  return {
    ...openTable({
      table: stack.tables.apiKeys,
      region: stack.region,
      endpoint: stack.dynamodbEndpoint,
      description: `local stack at ${stack.url}`,
    }),
    apiUrl: `${stack.url}/api/v1`,
  };
}

function openTable(options: {
  table: string;
  region: string | undefined;
  endpoint?: string | undefined;
  description: string;
}): OpenTarget {
  const client = new DynamoDBClient({
    ...(options.region === undefined ? {} : { region: options.region }),
    // An endpoint is DynamoDB Local, which needs a region and takes any credentials.
    ...(options.endpoint === undefined
      ? {}
      : {
          endpoint: options.endpoint,
          region: options.region ?? 'us-east-1',
          credentials: localCredentials(),
        }),
  });
  const document = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  return {
    store: new DynamoApiKeyStore(document, options.table),
    table: options.table,
    description: options.description,
    close: () => document.destroy(),
  };
}

/** The key table's name from the deployed stack's outputs. */
export async function stackTable(stackName: string, region: string | undefined): Promise<string> {
  const cloudFormation = new CloudFormationClient(region === undefined ? {} : { region });
  try {
    const out = await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }));
    const stack = out.Stacks?.[0];
    const table = stack?.Outputs?.find((output) => output.OutputKey === tableOutputKey)?.OutputValue;
    if (table === undefined) {
      throw new KeysError(
        `Stack ${stackName} has no ${tableOutputKey} output${stack?.StackStatus ? ` (status ${stack.StackStatus})` : ''}; ` +
          'is it a veo-serverless stack, deployed with `npx cdk deploy`?',
      );
    }
    return table;
  } catch (error) {
    // CloudFormation answers an unknown stack with a ValidationError "Stack with id X does not exist".
    if (error instanceof Error && error.name === 'ValidationError' && /does not exist/.test(error.message)) {
      const where = region ?? (await cloudFormation.config.region().catch(() => undefined));
      throw new KeysError(`No stack named ${stackName} in ${where ?? 'the default region'}; try --region`);
    }
    throw error;
  } finally {
    cloudFormation.destroy();
  }
}
