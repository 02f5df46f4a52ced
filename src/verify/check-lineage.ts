import type { Logger } from 'pino';
import type { CompiledRoute } from '../config/compile-routes.js';
import type { IssuerRegistry } from '../keys/issuer-registry.js';
import type { TrustIndex } from '../keys/trust-index.js';
import type { LineageRecord } from '../lineage/lineage-record.js';
import type { LineageService } from '../lineage/lineage-service.js';
import type { RevocationMirror } from '../revocation/revocation-mirror.js';
import { StoreUnavailableError } from '../store/store-unavailable-error.js';
import { ancestorRule } from './ancestor-standing.js';
import { AuthFailure } from './auth-failure.js';
import type { Reason } from './reasons.js';
import { tokenDetail } from './token-detail.js';
import type { VerifiedToken } from './verify-token.js';

type LineageMode = 'monitor' | 'required';
type LineageReason = Extract<Reason, 'lineage_unknown' | 'parent_revoked' | 'lineage_unavailable'>;

/** A presented resource token the mirror does not know: the store lookup it still owes. */
export interface PendingLineage {
  readonly token: VerifiedToken;
  readonly jti: string;
  readonly mode: LineageMode;
  readonly route: string;
}

export interface LineageCheckDeps {
  readonly lineage: Pick<LineageService, 'mirror' | 'looksUp' | 'lookup' | 'stats'>;
  readonly revocations: RevocationMirror;
  /** The key sets in force: an ancestor's key is judged as it stands now. */
  readonly registry: () => IssuerRegistry;
  readonly trust?: (() => TrustIndex | undefined) | undefined;
  /** `monitor` writes what `required` would refuse here. */
  readonly logger: Logger;
}

/**
 * Provenance, lineage of derived tokens: on a route that accepts a resource issuer with
 * `lineage: monitor | required`, its token must have been recorded when a minting route delivered
 * it (same issuer, jti and fingerprint), and every ancestor it was minted from must still stand:
 * not revoked by token, session, subject or issuer, its key still published, trusted, active and
 * not revoked, and not expired. A mirror hit is decided here with no I/O; a miss with the Redis
 * store returns the one lookup it owes (confirm() it), a miss with the memory store is unknown.
 */
export class LineageCheck {
  constructor(private readonly deps: LineageCheckDeps) {}

  check(token: VerifiedToken, route: CompiledRoute, nowMs: number): PendingLineage | undefined {
    if (route.lineage.size === 0) return undefined;
    const mode = route.lineage.get(token.issuer.id);
    if (mode === undefined) return undefined;
    const jti = token.claims.jti;
    if (jti === undefined) {
      this.refuse(
        mode,
        route.name,
        token,
        'lineage_unknown',
        'no_jti',
        'a minted token without a jti has no lineage',
      );
      return undefined;
    }
    const record = this.deps.lineage.mirror.find(token.issuer.id, jti);
    if (record !== undefined) {
      this.judge(record, token, mode, route.name, nowMs);
      return undefined;
    }
    if (this.deps.lineage.looksUp) return { token, jti, mode, route: route.name };
    this.refuse(
      mode,
      route.name,
      token,
      'lineage_unknown',
      'no_record',
      'no lineage record: not minted through a minting route',
    );
    return undefined;
  }

  /** The lookup a miss owes; rejects with AuthFailure as check() throws it. */
  async confirm(pending: PendingLineage, nowMs: () => number): Promise<void> {
    const { token, jti, mode, route } = pending;
    let record: LineageRecord | undefined;
    try {
      record = await this.deps.lineage.lookup(token.issuer.id, jti);
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      this.refuse(
        mode,
        route,
        token,
        'lineage_unavailable',
        'store_unavailable',
        `lineage store: ${err.message}`,
      );
      return;
    }
    if (record === undefined) {
      this.refuse(
        mode,
        route,
        token,
        'lineage_unknown',
        'no_record',
        'no lineage record: not minted through a minting route',
      );
      return;
    }
    this.judge(record, token, mode, route, nowMs());
  }

  private judge(
    record: LineageRecord,
    token: VerifiedToken,
    mode: LineageMode,
    route: string,
    nowMs: number,
  ): void {
    if (record.child.fingerprint !== token.fingerprint) {
      this.refuse(
        mode,
        route,
        token,
        'lineage_unknown',
        'fingerprint_mismatch',
        `another token (fingerprint ${record.child.fingerprint}) was recorded under this jti`,
      );
      return;
    }
    const ancestors = record.ancestors;
    for (let i = 0; i < ancestors.length; i++) {
      const ancestor = ancestors[i]!;
      const rule = ancestorRule(
        ancestor,
        this.deps.revocations,
        this.deps.registry(),
        this.deps.trust?.(),
        nowMs,
      );
      if (rule === undefined) continue;
      this.refuse(
        mode,
        route,
        token,
        'parent_revoked',
        rule,
        `ancestor ${i + 1}/${ancestors.length} ${ancestor.issuer} jti=${ancestor.jti ?? '-'} sub=${ancestor.sub} kid=${ancestor.kid} fp=${ancestor.fingerprint}`,
      );
      return;
    }
  }

  private refuse(
    mode: LineageMode,
    route: string,
    token: VerifiedToken,
    reason: LineageReason,
    rule: string,
    note: string,
  ): void {
    this.deps.lineage.stats.useRefused(rule);
    if (mode === 'required') throw new AuthFailure(reason, tokenDetail(token, `${rule}: ${note}`));
    this.deps.logger.warn(
      {
        event: 'lineage.monitor',
        severity: 'high',
        reason,
        rule,
        route,
        issuerId: token.issuer.id,
        jti: token.claims.jti?.slice(0, 256),
        sub: token.claims.sub?.slice(0, 256),
        tokenFingerprint: token.fingerprint,
        note: note.slice(0, 512),
      },
      `lineage (monitor): would refuse with ${reason} (${rule})`,
    );
  }
}
