import type { GatewayRuntime } from './gateway-runtime.js';

/**
 * The generation in force. A reload replaces `current` in one assignment; a request reads it once,
 * when it arrives. Also keeps what must stay continuous across generations for /metrics.
 */
export class RuntimeHolder {
  current: GatewayRuntime;
  private retiredHits = 0;
  private retiredMisses = 0;

  constructor(initial: GatewayRuntime) {
    this.current = initial;
  }

  /** Puts `next` in force; returns the generation it replaces. */
  swap(next: GatewayRuntime): GatewayRuntime {
    const previous = this.current;
    const { hits, misses } = previous.verifier.stats;
    this.retiredHits += hits;
    this.retiredMisses += misses;
    this.current = next;
    return previous;
  }

  /** Verified-token cache counters that keep counting up across reloads (Prometheus counters). */
  cacheStats(): { hits: number; misses: number; size: number; bytes: number } {
    const stats = this.current.verifier.stats;
    return {
      hits: this.retiredHits + stats.hits,
      misses: this.retiredMisses + stats.misses,
      size: stats.size,
      bytes: stats.bytes,
    };
  }
}
