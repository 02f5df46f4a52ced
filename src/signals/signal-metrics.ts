import { Counter, Gauge, type Registry } from 'prom-client';
import type { SignalReceiver } from './signal-receiver.js';

/**
 * The receiver's series on /metrics: SETs by transmitter, event type and outcome, and whether
 * each transmitter's stream is up. Read at scrape time; the SET path only bumps a Map entry.
 */
export function registerSignalMetrics(registry: Registry, receiver: SignalReceiver): void {
  const registers = [registry];
  new Counter({
    name: 'provgate_signals_sets_total',
    help: 'Security Event Tokens received, by transmitter, event type and outcome (applied, duplicate, ignored, unavailable, or the RFC 8935 error code)',
    labelNames: ['transmitter', 'event', 'outcome'],
    registers,
    collect() {
      this.reset();
      for (const e of receiver.stats.entries())
        this.inc({ transmitter: e.transmitter, event: e.event, outcome: e.outcome }, e.count);
    },
  });
  new Gauge({
    name: 'provgate_signals_transmitter_up',
    help: '1 while the transmitter stream is enabled; 0 once it reported paused or disabled (stream-updated)',
    labelNames: ['transmitter'],
    registers,
    async collect() {
      this.reset();
      for (const t of await receiver.status()) this.set({ transmitter: t.name }, t.up ? 1 : 0);
    },
  });
  new Gauge({
    name: 'provgate_signals_last_event_timestamp_seconds',
    help: 'When the transmitter last delivered a SET that was applied (any instance, with the Redis store)',
    labelNames: ['transmitter'],
    registers,
    async collect() {
      this.reset();
      for (const t of await receiver.status()) {
        if (t.lastEventAt !== undefined) this.set({ transmitter: t.name }, Date.parse(t.lastEventAt) / 1000);
      }
    },
  });
}
