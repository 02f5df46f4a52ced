/**
 * What the metrics and the dashboard need from the protection rules' blocks. Structural, so that
 * observability does not depend on how protection keeps them (src/protection/block-service.ts
 * satisfies it).
 */
export interface BlockView {
  list(): readonly BlockSummary[];
  unblock(id: string): Promise<unknown>;
}

export interface BlockSummary {
  readonly id: string;
  readonly target: string;
  readonly value: string;
  readonly rule: string;
  readonly reason: string;
  readonly at: string;
  readonly expiresAt: number;
  readonly by: string;
}
