import type { Logger } from 'pino';
import type { AdminEvent, SecurityEvents } from '../observability/security-events.js';

// Token-derived strings (sub, iss, kid) are the client's to choose: an event never carries more.
const FIELD_LIMIT = 256;

/** Bounds a value from a token or request before it goes into an event. */
export function bounded(value: string | undefined): string | undefined {
  if (value === undefined || value.length <= FIELD_LIMIT) return value;
  return `${value.slice(0, FIELD_LIMIT)}…[truncated ${value.length - FIELD_LIMIT}]`;
}

/**
 * Writes an admin event: one log line at the level its severity says, then the event ring, the
 * dashboard and the Redis stream (through SecurityEvents) when the listener has them.
 */
export class AdminEvents {
  constructor(
    private readonly logger: Logger,
    private readonly events: SecurityEvents | undefined,
  ) {}

  emit(event: AdminEvent, message: string): void {
    // Written here, by the admin listener's logger (its lines say `listener: admin`).
    if (event.severity === 'critical') this.logger.error(event, message);
    else if (event.severity === 'high') this.logger.warn(event, message);
    else this.logger.info(event, message);
    this.events?.notice(event, undefined);
  }
}
