import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { socketAddress } from '../protection/client-address.js';
import { refusalOf, writeRawRefusal } from '../proxy/refusal-reply.js';
import { openTunnel } from '../proxy/tunnel.js';
import type { TunnelRegistry } from '../proxy/tunnel-registry.js';
import type { GatewayRuntime } from '../runtime/gateway-runtime.js';
import { AuthFailure } from '../verify/auth-failure.js';
import type { VerifiedToken } from '../verify/verify-token.js';
import { Authorization, authorizeEventually, type PipelineDeps, refuse } from './request-pipeline.js';

export interface UpgradeDeps {
  readonly runtime: { readonly current: GatewayRuntime };
  /** The same steps and dependencies as the request hook's. */
  readonly pipeline: PipelineDeps;
  readonly tunnels: TunnelRegistry;
  readonly logger: Logger;
}

/**
 * `Upgrade` requests (WebSockets) arrive on the server's `upgrade` event, where no Fastify route
 * or hook runs: they go through the same pipeline here, are refused on the raw socket, or are
 * tunnelled to the route's upstream and registered so that they close when the credential dies.
 */
export function installUpgradeListener(server: Server, deps: UpgradeDeps): void {
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // A client that resets mid-handshake must cost an error event, not the process.
    socket.on('error', () => socket.destroy());
    upgrade(req, socket, head, deps).catch((err: unknown) => {
      deps.logger.error({ err }, 'upgrade failed');
      socket.destroy();
    });
  });
}

async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, deps: UpgradeDeps): Promise<void> {
  // Read once, as for any request: a reload meanwhile does not change the rules for this one.
  const runtime = deps.runtime.current;
  const url = req.url ?? '/';
  const into = new Authorization();
  let verified: VerifiedToken;
  try {
    verified = await authorizeEventually(runtime, deps.pipeline, req, url, into);
  } catch (err) {
    if (!(err instanceof AuthFailure)) throw err;
    const refusal = refuse(err, into, req, url, deps.pipeline.events);
    if (!socket.destroyed) writeRawRefusal(socket, refusal);
    return;
  }
  const target = into.route === undefined ? undefined : runtime.upstreams.get(into.route);
  if (target === undefined) {
    writeRawRefusal(socket, refusalOf('no_route'));
    return;
  }
  if (socket.destroyed) return;
  openTunnel(req, socket, head, target, verified, {
    registry: deps.tunnels,
    log: deps.logger,
    ip: into.ip ?? socketAddress(req),
    headers: into.headers,
  });
}
