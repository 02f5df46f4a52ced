// Starts one gateway on a generated config. The CLI's `start` would do the same; this launcher
// exists so that a run works before the CLI does, and so that SIGTERM always ends in a clean
// process.exit (which is when `node --cpu-prof` writes its profile).
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { startGateway as StartGateway } from '../../src/server.js';
import { argValue, exitWithParent } from './exit-with-parent.js';

const distServer = new URL('../../dist/src/server.js', import.meta.url);
const srcServer = new URL('../../src/server.ts', import.meta.url);
// The compiled output is what a deployment runs; the sources (through tsx) are the fallback.
const impl = argValue('impl');
const entry = impl === 'dist' ? distServer : srcServer;
if (!existsSync(entry)) throw new Error(`${entry.pathname} not found (run npm run build)`);

const { startGateway } = (await import(pathToFileURL(entry.pathname).href)) as {
  startGateway: typeof StartGateway;
};
const running = await startGateway(argValue('config'));
exitWithParent(() => running.close(1000));
