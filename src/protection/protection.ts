import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { CompiledRoute } from '../config/compile-routes.js';
import type { AnomalyEvent, RefusalEvent } from '../observability/security-events.js';
import { AuthFailure, type ResponseHeaders } from '../verify/auth-failure.js';
import { replayIdentity } from '../verify/token-binding.js';
import { tokenDetail } from '../verify/token-detail.js';
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
 * What the request pipeline (src/http/request-pipeline.ts) asks of protection, in the order it
 * asks: source admission (the client's address, and whether it may be served at all, before
 * routing or any token work), then the protection step for a verified token (blocks, replay, rate
 * limits, volume). Refusals are AuthFailures like every other step's, headers included; nothing
 * here writes to a reply. Failure bursts and critical events come from the security events.
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

  /**
   * Source admission, before routing: returns the client's address (the socket peer, or what
   * trusted proxies say), or refuses it, 403 blocked_network for a denied network and 403
   * blocked_source for a blocked address.
   */
  admitSource(request: IncomingMessage): string {
    const address = this.addresses.resolve(request);
    const denyList = this.denyList;
    if (denyList?.matches(address)) {
      if (denyList.enforce)
        throw new AuthFailure('blocked_network', { note: 'client address on a deny list' });
      this.monitorDenied(address);
    }
    const mirror = this.blocks.mirror;
    if (mirror.size === 0) return address;
    const block = mirror.address(address, this.clock());
    if (block !== undefined) throw new AuthFailure('blocked_source', { note: noteOf(block) });
    return address;
  }

  /**
   * The protection step, for a token that verified and that the route accepts: token blocks
   * (token_blocked) and subject blocks (subject_blocked), then replay, rate limits and volume.
   * Returns the headers an admitted request is to be answered with, if any (none today).
   */
  admitToken(token: VerifiedToken, route: CompiledRoute, address: string): ResponseHeaders | undefined {
    const now = this.clock();
    const mirror = this.blocks.mirror;
    if (mirror.size > 0) {
      // The replay rule blocks a bound token's key or certificate (replayIdentity), not the token.
      const bound = replayIdentity(token);
      const block =
        mirror.token(token.fingerprint, now) ??
        (bound === token.fingerprint ? undefined : mirror.token(bound, now)) ??
        mirror.subject(subjectKey(token), now);
      if (block !== undefined) throw blocked(token, block);
    }
    this.replay?.observe(token, address, now);
    const headers = this.rateLimits?.admit(token, route, address, now);
    if (this.spike?.applies(route)) this.spike.observe(token, route, address, now);
    return headers;
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

// By what the block holds, not by the reason its record gives: a subject block decided by an
// instance that still named it token_blocked is refused as subject_blocked all the same.
function blocked(token: VerifiedToken, block: BlockRecord): AuthFailure {
  const reason = block.target === 'subject' ? 'subject_blocked' : 'token_blocked';
  return new AuthFailure(reason, tokenDetail(token, noteOf(block)));
}
