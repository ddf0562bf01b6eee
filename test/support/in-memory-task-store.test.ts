import { InMemoryApiKeyStore } from './in-memory-adapters';
import { InMemoryTaskStore } from './in-memory-task-store';
import { taskStoreContract } from './task-store-contract';

// One store for the suite, as the DynamoDB run shares its tables: tests keep apart by key and scope.
const keys = new InMemoryApiKeyStore();
const store = new InMemoryTaskStore(keys);

taskStoreContract('InMemoryTaskStore', () => ({ store, keys }));
