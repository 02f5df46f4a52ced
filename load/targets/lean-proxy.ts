// The ceiling for provgate: its own proxy leg (compiled src/proxy/, undici's dispatcher writing
// straight to the raw response) behind the same Fastify listener and catch-all route, with no
// authentication at all. Against this, provgate's ratio is the cost of its checks and nothing else.
import { pathToFileURL } from 'node:url';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { bareFastify, METHODS } from './bare-fastify.js';
import { argValue, exitWithParent } from './exit-with-parent.js';

// Loaded from dist/ at run time and typed loosely here: this file is compiled on its own, outside
// the project (load/procs/compile-targets.ts), so it cannot name src/'s types.
interface Pool {
  close(graceMs?: number): Promise<void>;
  forOrigin(origin: string): unknown;
}
type Forward = (req: unknown, res: unknown, target: unknown, auth: null, log: unknown) => void;
interface Exchange {
  forward: Forward;
}
interface Pools {
  UpstreamPools: new (settings: {
    connections: number;
    maxQueued: number;
    retryAfterSeconds: number;
  }) => Pool;
}

const dist = argValue('dist');
const load = async <T>(path: string): Promise<T> =>
  (await import(pathToFileURL(`${dist}/src/proxy/${path}.js`).href)) as T;
const { forward } = await load<Exchange>('proxy-exchange');
const { UpstreamPools } = await load<Pools>('upstream-pools');

const upstream = new URL(argValue('upstream'));
// The gateway's defaults (src/config/schema.ts `upstreams:`), so the pools are the same.
const pools = new UpstreamPools({ connections: 128, maxQueued: 128, retryAfterSeconds: 1 });
// The shape of src/proxy/upstream-route.ts's UpstreamTarget for a route without a rewrite.
const target = {
  origin: upstream.origin,
  pool: pools.forOrigin(upstream.origin),
  rewrite: undefined,
  prefixLength: 0,
  location: undefined,
  timeoutMs: 30_000,
  bodyIdleTimeoutMs: 30_000,
  forwardToken: true,
  name: 'lean',
};
const log = { warn() {}, info() {} };

const app = bareFastify();
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
const handler = (request: FastifyRequest, reply: FastifyReply) => {
  reply.hijack();
  forward(request.raw, reply.raw, target, null, log);
};
app.route({ method: [...METHODS], url: '/', handler });
app.route({ method: [...METHODS], url: '/*', handler });
await app.listen({ host: '127.0.0.1', port: Number(argValue('port')) });
exitWithParent(async () => {
  await app.close();
  await pools.close(1000);
});
