/** Starts or joins an issuer's key-set refetch for an unknown kid, if its cooldown allows one. */
export interface KeyRefetcher {
  /**
   * A promise that settles (never rejects, bounded in time) when the issuer's in-flight refetch
   * is done; undefined when no refetch is running and the cooldown forbids starting one.
   */
  refetchFor(issuerId: string, nowMs: number): Promise<void> | undefined;
  /** Seconds until an unknown kid may cause another fetch (a Retry-After for keys_unavailable). */
  cooldownLeftSeconds(issuerId: string, nowMs: number): number;
}

/**
 * Thrown by the key step instead of unknown_key when the issuer's set is being refetched: the
 * auth hook awaits `settled` and verifies the token once more. Never reaches a client. Only the
 * unknown-kid path throws it, so the known-kid path stays synchronous.
 */
export class KeyRefetchPending extends Error {
  constructor(readonly settled: Promise<void>) {
    super('key set refetch pending');
    this.name = 'KeyRefetchPending';
  }
}
