import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ManagedChild } from './process-group.js';

function tryConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Resolves once `port` accepts connections; rejects, with the child's stderr, if it dies first. */
export async function waitForPort(child: ManagedChild, port: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.process.exitCode !== null || child.process.signalCode !== null) {
      throw new Error(`${child.name} exited before listening on ${port}:\n${child.stderrTail()}`);
    }
    if (await tryConnect(port)) return;
    await sleep(50);
  }
  throw new Error(`${child.name} did not listen on ${port} within ${timeoutMs} ms:\n${child.stderrTail()}`);
}
