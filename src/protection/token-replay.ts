import type { ProtectionConfig } from '../config/schema.js';
import { AuthFailure } from '../verify/auth-failure.js';
import { replayIdentity } from '../verify/token-binding.js';
import { tokenDetail } from '../verify/token-detail.js';
import type { VerifiedToken } from '../verify/verify-token.js';
import type { AnomalyActions } from './anomaly-actions.js';
import { RecentMap } from './recent-map.js';
import type { SharedTallies, Sighting, SightingTally } from './shared-tallies.js';

export type TokenReplaySpec = Readonly<NonNullable<ProtectionConfig['anomalies']['tokenReplay']>>;

const MAX_TOKENS = 100_000;
// Past this many a token is a replay whatever the threshold; more addresses only cost memory
// (in monitor mode nothing stops the script from bringing a million).
const MAX_ADDRESSES_PER_TOKEN = 256;
// Sightings kept for the next batch while the store is away.
const MAX_QUEUED = 10_000;

interface Seen {
  /** Last request from this address with this token. */
  seen: number;
  /** Last time the store was told, so that a long-lived address is re-sent, not re-sent each time. */
  shared: number;
}

/** One token's client addresses within the sliding window. */
class Sightings {
  readonly addresses = new Map<string, Seen>();
  /** Distinct addresses on all instances, as the store last said, and when it said so. */
  cluster = 0;
  clusterAt = 0;
  flaggedUntil = 0;

  constructor(
    readonly expiresAt: number,
    readonly issuer: string,
    readonly subject: string | undefined,
  ) {}
}

/**
 * `token_replay`: a stolen token replayed through rotating proxies shows up from many client
 * addresses; a real client keeps one or a few. Above `maxAddresses` distinct addresses within
 * the window the token is blocked until it expires. A new address is one Map insert here and
 * one sighting in the next batch to the store, which answers with the cluster-wide count.
 */
export class TokenReplay {
  private readonly tokens = new RecentMap<string, Sightings>(MAX_TOKENS);
  private readonly windowMs: number;
  private queue: Sighting[] = [];

  constructor(
    private readonly spec: TokenReplaySpec,
    private readonly actions: AnomalyActions,
    private readonly shared: SharedTallies | undefined,
  ) {
    this.windowMs = spec.windowSeconds * 1000;
  }

  /** Records the address; throws token_blocked (enforce) when it makes one address too many. */
  observe(token: VerifiedToken, address: string, now: number): void {
    // A bound token's addresses are counted per key or certificate (token-binding.ts).
    const fingerprint = replayIdentity(token);
    let sightings = this.tokens.get(fingerprint);
    if (sightings === undefined) {
      const exp = ((token.claims.exp ?? now / 1000) + token.issuer.clockSkewSeconds) * 1000;
      sightings = new Sightings(exp, token.issuer.id, token.claims.sub);
      this.tokens.set(fingerprint, sightings);
    }
    const known = sightings.addresses.get(address);
    if (known !== undefined) {
      known.seen = now;
      if (this.shared !== undefined && now - known.shared >= this.windowMs / 2) {
        known.shared = now;
        this.share(fingerprint, address, now);
      }
      return;
    }
    this.forgetOld(sightings, now);
    if (sightings.addresses.size >= MAX_ADDRESSES_PER_TOKEN) return;
    sightings.addresses.set(address, { seen: now, shared: now });
    if (this.shared !== undefined) this.share(fingerprint, address, now);
    const cluster = now - sightings.clusterAt < this.windowMs ? sightings.cluster : 0;
    if (Math.max(sightings.addresses.size, cluster) > this.spec.maxAddresses) {
      const block = this.fire(fingerprint, sightings, now, []);
      if (block !== undefined)
        throw new AuthFailure('token_blocked', tokenDetail(token, `token_replay: block ${block}`));
    }
  }

  /** Sends new sightings; a token that crossed the line on the cluster as a whole fires here. */
  async flush(now: number): Promise<void> {
    if (this.shared === undefined || this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    let tallies: readonly SightingTally[];
    try {
      tallies = await this.shared.addSightings(batch);
    } catch {
      // Store away: this instance still judges by what it sees; the cluster hears it later.
      this.queue = [...batch, ...this.queue].slice(-MAX_QUEUED);
      return;
    }
    for (const [i, sighting] of batch.entries()) {
      const tally = tallies[i];
      const sightings = this.tokens.peek(sighting.fingerprint);
      if (tally === undefined || sightings === undefined) continue;
      sightings.cluster = tally.addresses;
      sightings.clusterAt = now;
      if (tally.addresses > this.spec.maxAddresses)
        this.fire(sighting.fingerprint, sightings, now, tally.evidence);
    }
  }

  private share(fingerprint: string, address: string, at: number): void {
    this.queue.push({
      fingerprint,
      address,
      at,
      windowMs: this.windowMs,
      maxAddresses: this.spec.maxAddresses,
    });
  }

  private forgetOld(sightings: Sightings, now: number): void {
    for (const [address, s] of sightings.addresses) {
      if (now - s.seen > this.windowMs) sightings.addresses.delete(address);
    }
  }

  /** Returns the block id when the token is (now) blocked. Monitor mode reports once a window. */
  private fire(
    fingerprint: string,
    sightings: Sightings,
    now: number,
    clusterAddresses: readonly string[],
  ): string | undefined {
    if (this.spec.mode === 'monitor' && now < sightings.flaggedUntil) return undefined;
    sightings.flaggedUntil = now + this.windowMs;
    const addresses = [...new Set([...sightings.addresses.keys(), ...clusterAddresses])];
    const block = this.actions.act(
      {
        rule: 'token_replay',
        mode: this.spec.mode,
        subject: sightings.subject,
        issuer: sightings.issuer,
        tokenFingerprint: fingerprint,
        addresses,
        counts: {
          distinctAddresses: Math.max(sightings.addresses.size, sightings.cluster),
          maxAddresses: this.spec.maxAddresses,
          windowSeconds: this.spec.windowSeconds,
        },
      },
      { target: 'token', value: fingerprint, reason: 'token_blocked', expiresAt: sightings.expiresAt, now },
    );
    return block?.id;
  }
}
