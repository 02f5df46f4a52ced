import type { IncomingMessage } from 'node:http';
import type { FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import type { CompiledRoute } from '../config/compile-routes.js';
import type { AnomalyEvent, RefusalEvent } from '../observability/security-events.js';
import { AuthFailure } from '../verify/auth-failure.js';
import type { VerifiedToken } from '../verify/verify-token.js';
import { AddressMatcher } from './address-matcher.js';
import { AnomalyActions } from './anomaly-actions.js';
import { BatchSync } from './batch-sync.js';
import type { BlockRecord } from './block-record.js';
import { BlockService } from './block-service.js';
import type { BlockStore } from './block-store.js';
import { ClientAddressResolver } from './client-address.js';
import type { CompiledProtection } from './compile-protection.js';
import { CriticalEvent } from './critical-event.js';
import { DenyList } from './deny-list.js';
import { FailureBurst } from './failure-burst.js';
import { RateLimits } from './rate-limits.js';
import { RecentMap } from './recent-map.js';
import type { SharedTallies } from './shared-tallies.js';
import { subjectKey } from './subject-key.js';
import { TokenReplay } from './token-replay.js';
import { VolumeSpike } from './volume-spike.js';

export interface ProtectionDeps {
  readonly logger: Logger;
  readonly clock: () => number;
  readonly blockStore: BlockStore;
  /** Only with the Redis store: counts and sightings shared by every instance. */
  readonly shared: SharedTallies | undefined;
  readonly resyncMs: number;
  /** Names this instance on the blocks it decides. */
  readonly instance: string;
}

// A monitored deny list logs an address at most once a minute, not once a request.
const MONITOR_REPEAT_MS = 60_000;

/**
 * What the request pipeline asks of protection, in the order it asks: the client's address, then
 * whether that address may be served at all (before routing or any token work), then, for a
 * verified token, blocks, replay, rate limits and volume. Refusals are AuthFailures like every
 * other step. Failure bursts and critical events come from the security events.
 */
export class Protection {
  readonly blocks: BlockService;
  readonly sync: BatchSync;
  private readonly addresses: ClientAddressResolver;
  private readonly denyList: DenyList | undefined;
  private readonly replay: TokenReplay | undefined;
  private readonly rateLimits: RateLimits | undefined;
  private readonly spike: VolumeSpike | undefined;
  private readonly burst: FailureBurst | undefined;
  private readonly critical: CriticalEvent | undefined;
  private readonly actions: AnomalyActions;
  private readonly monitoredDenials = new RecentMap<string, number>(10_000);
  private readonly clock: () => number;

  constructor(compiled: CompiledProtection, deps: ProtectionDeps) {
    const { logger, clock, shared } = deps;
    this.clock = clock;
    this.blocks = new BlockService({ store: deps.blockStore, logger, clock, resyncMs: deps.resyncMs });
    this.actions = new AnomalyActions(this.blocks, logger, deps.instance);
    this.sync = new BatchSync(compiled.shareIntervalMs);
    this.addresses = new ClientAddressResolver(new AddressMatcher(compiled.trustedProxies));
    this.denyList = compiled.denyList && new DenyList(compiled.denyList, logger);
    if (compiled.tokenReplay !== undefined) {
      const replay = new TokenReplay(compiled.tokenReplay, this.actions, shared);
      this.replay = replay;
      if (shared !== undefined) this.sync.add(() => replay.flush(clock()));
    }
    if (compiled.rateLimits.length > 0) {
      this.rateLimits = new RateLimits(compiled.rateLimits, compiled.routeNames, shared, this.actions);
      if (shared !== undefined) for (const flush of this.rateLimits.flushers) this.sync.add(flush);
    }
    if (compiled.volumeSpike !== undefined) this.spike = new VolumeSpike(compiled.volumeSpike, this.actions);
    if (compiled.failureBurst !== undefined) {
      const burst = new FailureBurst(compiled.failureBurst, this.actions, shared, clock);
      this.burst = burst;
      if (shared !== undefined) this.sync.add(() => burst.counters.flush());
    }
    if (compiled.criticalEvent !== undefined)
      this.critical = new CriticalEvent(compiled.criticalEvent, this.actions);
  }

  async start(): Promise<void> {
    await this.blocks.start();
    this.denyList?.start();
    this.sync.start();
  }

  async stop(): Promise<void> {
    this.denyList?.stop();
    await this.sync.stop();
    await this.blocks.stop();
  }

  clientAddress(request: IncomingMessage): string {
    return this.addresses.resolve(request);
  }

  /** Before routing: 403 blocked_network for a denied network, 403 blocked_source for a blocked address. */
  admitSource(address: string): void {
    const denyList = this.denyList;
    if (denyList?.matches(address)) {
      if (denyList.enforce)
        throw new AuthFailure('blocked_network', { note: 'client address on a deny list' });
      this.monitorDenied(address);
    }
    const mirror = this.blocks.mirror;
    if (mirror.size === 0) return;
    const block = mirror.address(address, this.clock());
    if (block !== undefined) throw new AuthFailure('blocked_source', { note: noteOf(block) });
  }

  /** After the token verified and the route accepted it: token and subject blocks, then the rules. */
  admitToken(token: VerifiedToken, route: CompiledRoute, address: string, reply: FastifyReply): void {
    const now = this.clock();
    const mirror = this.blocks.mirror;
    if (mirror.size > 0) {
      const block = mirror.token(token.fingerprint, now) ?? mirror.subject(subjectKey(token), now);
      if (block !== undefined) throw tokenBlocked(token, block);
    }
    this.replay?.observe(token, address, now);
    this.rateLimits?.admit(token, route, address, now, reply);
    if (this.spike?.applies(route)) this.spike.observe(token, route, address, now);
  }

  /** Every anomaly event as it is logged (the security event stream listens here). */
  onAnomaly(listener: (event: AnomalyEvent) => void): void {
    this.actions.onAnomaly(listener);
  }

  /** Fed every refusal by SecurityEvents: failure bursts and critical events. */
  onRefusal(event: RefusalEvent): void {
    if (event.reason === 'blocked_source' || event.reason === 'blocked_network') return;
    const now = this.clock();
    this.critical?.onRefusal(event, now);
    this.burst?.onRefusal(event, now);
  }

  private monitorDenied(address: string): void {
    const now = this.clock();
    const last = this.monitoredDenials.get(address);
    if (last !== undefined && now - last < MONITOR_REPEAT_MS) return;
    this.monitoredDenials.set(address, now);
    this.actions.flag({ rule: 'deny_network', mode: 'monitor', addresses: [address], counts: {} });
  }
}

function noteOf(block: BlockRecord): string {
  return `${block.rule}: block ${block.id} until ${new Date(block.expiresAt).toISOString()}`;
}

function tokenBlocked(token: VerifiedToken, block: BlockRecord): AuthFailure {
  return new AuthFailure('token_blocked', {
    issuerId: token.issuer.id,
    claimedIssuer: token.issuer.iss,
    kid: token.key.kid,
    sub: token.claims.sub,
    jti: token.claims.jti,
    note: noteOf(block),
  });
}
