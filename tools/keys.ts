import { main } from './keys/main';

/** `npm run keys -- <command>`: mint, list, top up, revoke API keys and their webhook secrets (--help). */
process.exitCode = await main(process.argv.slice(2));
