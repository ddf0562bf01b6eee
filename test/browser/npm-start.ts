import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** `npm start` as the browser tests run it: in its own process group, its output kept, not printed. */
const root = fileURLToPath(new URL('../..', import.meta.url));

export interface Started {
  child: ChildProcess;
  output: string;
  playgroundUrl: string;
  docsUrl: string;
  apiKey: string;
}

/**
 * `npm start` on a free loopback port with a short simulated generation, run as a user runs it; resolves once
 * it is ready, with the URLs and the key it printed.
 */
export function startNpm(stackFile: string, args: string[] = []): Promise<Started> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: '0',
    SIMULATOR_LATENCY_MS: '1500',
    VEO_LOCAL_STACK_FILE: stackFile,
  };
  // The key must be the one npm start generates and prints.
  delete env.DEV_API_KEY;
  delete env.DEV_WEBHOOK_SECRET;
  // Its own process group, so the whole tree (npm, node) stops together.
  const child = spawn('npm', ['start', ...(args.length > 0 ? ['--', ...args] : [])], {
    cwd: root,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start did not get ready:\n${output}`)), 100_000);
    const settle = (error?: Error) => {
      clearTimeout(timer);
      if (error) return reject(error);
      const field = (label: string) => new RegExp(`^ {2}${label} +(\\S+)`, 'm').exec(output)?.[1] ?? '';
      resolve({
        child,
        output,
        playgroundUrl: field('Playground'),
        docsUrl: field('API reference'),
        apiKey: field('API key'),
      });
    };
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Press Ctrl-C to stop.')) settle();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('error', (error) => settle(error));
    child.on('exit', (code) => settle(new Error(`npm start exited with ${code}:\n${output}`)));
  });
}

export function stopNpm(child: ChildProcess | undefined): Promise<void> {
  if (!child?.pid || child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {}
      resolve();
    }, 15_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    process.kill(-(child.pid as number), 'SIGINT');
  });
}
