import type { Logger } from 'pino';
import type { LineageService } from '../lineage/lineage-service.js';
import type { SecurityEvents } from '../observability/security-events.js';
import { MintRecorder } from '../proxy/mint-capture.js';
import type { RevocationService } from '../revocation/revocation-service.js';
import type { RuntimeHolder } from '../runtime/runtime-holder.js';
import { LineageCheck } from '../verify/check-lineage.js';

export interface LineageSteps {
  /** The lineage part of the provenance step (request-pipeline.ts). */
  readonly check: LineageCheck | undefined;
  /** Recording on minting routes (the proxy leg). */
  readonly recorder: MintRecorder | undefined;
}

/** Both halves of lineage on the proxy listener, over one LineageService; none without it. */
export function createLineageSteps(
  lineage: LineageService | undefined,
  deps: {
    readonly runtime: RuntimeHolder;
    readonly revocations: RevocationService;
    readonly events: SecurityEvents;
    readonly logger: Logger;
    readonly clock: () => number;
  },
): LineageSteps {
  if (lineage === undefined) return { check: undefined, recorder: undefined };
  const { runtime, revocations, events, logger, clock } = deps;
  return {
    check: new LineageCheck({
      lineage,
      revocations: revocations.mirror,
      registry: () => runtime.current.compiled.registry,
      trust: () => runtime.current.trust,
      logger,
    }),
    recorder: new MintRecorder({ lineage, events, logger, clock }),
  };
}
