import { inject } from 'vitest';

// The shared emulators (test/setup/emulators.ts), where startLocalStack looks for them.
process.env.VEO_SHARED_EMULATORS ??= JSON.stringify(inject('emulators'));
