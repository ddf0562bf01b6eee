import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type {
  CallbackAttemptRecord,
  Generation,
  InjectedFault,
  SimulatorOptions,
  SimulatorStats,
} from './operations';
import type { PushMode, RecordedRequest, Simulator } from './server';

/**
 * A simulator on a thread of its own, as an upstream is a machine of its own: the local stack runs every
 * function, the emulators and the upstreams in one process, and an upstream sharing the handlers' event
 * loop stamps a request's arrival (and counts its quota) only when that loop gets to it, hundreds of
 * milliseconds late under a burst, which no deployed upstream does. The Simulator it returns is the same
 * interface, answered synchronously: each call waits for the thread's answer (Atomics.wait, then
 * receiveMessageOnPort), so a fault injected or an outage begun is in place before the next request, as
 * in process.
 */
export async function startSimulatorThread(options: SimulatorOptions = {}): Promise<Simulator> {
  const { port1: port, port2 } = new MessageChannel();
  const answered = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(new URL('./thread-worker.ts', import.meta.url), {
    // The thread loads TypeScript as the process does (tsx), whatever started the process (vitest too).
    execArgv: ['--import', 'tsx'],
    workerData: { options, port: port2, answered },
    transferList: [port2],
  });
  const url = await new Promise<string>((resolve, reject) => {
    worker.once('message', (message: { url: string }) => resolve(message.url));
    worker.once('error', reject);
    worker.once('exit', (code) =>
      reject(new Error(`the simulator thread exited (${code}) before it listened`)),
    );
  });
  worker.unref();

  const call = <T>(method: SimulatorCall, arg?: unknown): T => {
    Atomics.store(answered, 0, 0);
    port.postMessage({ method, arg });
    if (!waitForFlag(answered, callTimeoutMs))
      throw new Error(`the simulator thread did not answer ${method} within ${callTimeoutMs} ms`);
    const reply = receiveMessageOnPort(port)?.message as { value?: T; error?: string } | undefined;
    if (!reply) throw new Error(`the simulator thread's answer to ${method} is missing`);
    if (reply.error !== undefined) throw new Error(reply.error);
    return reply.value as T;
  };

  return {
    url,
    get stats() {
      return call<SimulatorStats>('stats');
    },
    get requests() {
      return call<RecordedRequest[]>('requests');
    },
    get callbacks() {
      return call<CallbackAttemptRecord[]>('callbacks');
    },
    get pushes() {
      return call<PushMode>('pushes');
    },
    set pushes(mode: PushMode) {
      call('setPushes', mode);
    },
    injectFault: (fault: InjectedFault) => call('injectFault', fault),
    generations: () => call<Generation[]>('generations'),
    down: () => call('down'),
    up: () => call('up'),
    get isDown() {
      return call<boolean>('isDown');
    },
    stop: async () => {
      call('stop');
      await worker.terminate();
      port.close();
    },
  };
}

/**
 * Waits until flag[0] is set (true) or the time is up (false). Not merely until a notify: the previous
 * answer's notify can come after its flag was already seen (that wait returned 'not-equal') and wake the
 * next call's wait before its answer is there.
 */
export function waitForFlag(flag: Int32Array, timeoutMs: number): boolean {
  const deadline = performance.now() + timeoutMs;
  while (Atomics.load(flag, 0) === 0) {
    const left = deadline - performance.now();
    if (left <= 0 || Atomics.wait(flag, 0, 0, left) === 'timed-out') return false;
  }
  return true;
}

/** What the host asks of the thread (simulator/thread-worker.ts answers each). */
export type SimulatorCall =
  | 'stats'
  | 'requests'
  | 'callbacks'
  | 'pushes'
  | 'setPushes'
  | 'injectFault'
  | 'generations'
  | 'down'
  | 'up'
  | 'isDown'
  | 'stop';

/** A thread that does not answer in this long is stuck (the host's event loop is blocked meanwhile). */
const callTimeoutMs = 10_000;
