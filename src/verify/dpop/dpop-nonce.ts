import { createHmac } from 'node:crypto';
import type { ResponseHeaders } from '../auth-failure.js';

/** What a proof's nonce is worth: this slot's (or the next: another instance's clock is ahead), the last slot's, or nothing. */
export type NonceState = 'fresh' | 'turning' | 'invalid';

const NONCE_BYTES = 24;

/**
 * Server nonces (RFC 9449 §8, §9) that every instance makes and accepts alike without sharing
 * state: a nonce is an HMAC over the number of a time slot, under a key from the configuration
 * (Abblix/Oidc.Server's rolling HMAC nonces). Unpredictable without the key, the same on every
 * instance with the same key and clock, and new every slot. The first key makes nonces, every
 * key is accepted: rotating a key is putting the new one first, and dropping the old one a slot
 * later. The nonces of the slots around now are computed once per slot, not per request.
 */
export class DpopNonces {
  private readonly slotMs: number;
  private slot = Number.NaN;
  private currentNonce = '';
  private fresh = new Set<string>();
  private turning = new Set<string>();
  /** The refusal's and the handover's `DPoP-Nonce` header, one object per slot. */
  private header: ResponseHeaders = {};

  constructor(
    private readonly keys: readonly string[],
    slotSeconds: number,
  ) {
    if (keys.length === 0) throw new Error('DPoP nonces need at least one key');
    this.slotMs = slotSeconds * 1000;
  }

  /** The nonce to hand out now. */
  current(nowMs: number): string {
    this.roll(nowMs);
    return this.currentNonce;
  }

  /** `{ 'dpop-nonce': current }`, the same object for the whole slot. */
  headers(nowMs: number): ResponseHeaders {
    this.roll(nowMs);
    return this.header;
  }

  check(nonce: string, nowMs: number): NonceState {
    this.roll(nowMs);
    if (this.fresh.has(nonce)) return 'fresh';
    return this.turning.has(nonce) ? 'turning' : 'invalid';
  }

  private roll(nowMs: number): void {
    const slot = Math.floor(nowMs / this.slotMs);
    if (slot === this.slot) return;
    this.slot = slot;
    this.currentNonce = nonceFor(this.keys[0]!, slot);
    this.fresh = new Set(this.keys.flatMap((key) => [nonceFor(key, slot), nonceFor(key, slot + 1)]));
    this.turning = new Set(this.keys.map((key) => nonceFor(key, slot - 1)));
    this.header = { 'dpop-nonce': this.currentNonce };
  }
}

function nonceFor(key: string, slot: number): string {
  // base64url: within NQCHAR (RFC 9449 §8.1), nothing to quote.
  return createHmac('sha256', key)
    .update(`provgate dpop nonce ${slot}`)
    .digest()
    .subarray(0, NONCE_BYTES)
    .toString('base64url');
}
