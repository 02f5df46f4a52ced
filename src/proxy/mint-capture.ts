import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { CompiledRoute } from '../config/compile-routes.js';
import type { Config, LineageConfig } from '../config/schema.js';
import { KeyRefetchPending } from '../keys/key-refetch.js';
import {
  type AncestorFacts,
  type LineageRecord,
  lineageId,
  type MintedKind,
} from '../lineage/lineage-record.js';
import type { LineageService } from '../lineage/lineage-service.js';
import { redactUrl } from '../observability/logger.js';
import type { SecurityEvents } from '../observability/security-events.js';
import { socketAddress } from '../protection/client-address.js';
import type { Protection } from '../protection/protection.js';
import { StoreUnavailableError } from '../store/store-unavailable-error.js';
import { AuthFailure, type FailureDetail } from '../verify/auth-failure.js';
import { tokenFingerprint } from '../verify/fingerprint.js';
import { REASONS } from '../verify/reasons.js';
import type { TokenVerifier, VerifiedToken } from '../verify/verify-token.js';
import { writeLegRefusal } from './leg-refusal.js';
import { type MintRule, mintViolation } from './mint-rules.js';
import { mayBeTokenAnswer, readTokenAnswer } from './token-answer.js';

/**
 * What the proxy leg does with a body chunk while a capture holds the answer: keep holding it;
 * `stream`: the capture wrote the status, the headers and what it held, and the leg streams the
 * rest as usual; `refused`: the capture answered the client, the upstream request is abandoned.
 */
export type CaptureStep = 'held' | 'stream' | 'refused';

/** A response the leg hands over whole instead of streaming (proxy-exchange.ts). */
export interface ResponseCapture {
  /** At the upstream's headers (already cleaned for the client): whether to take the body. */
  begin(statusCode: number, headers: IncomingHttpHeaders): boolean;
  data(chunk: Buffer): CaptureStep;
  /** The whole body arrived: the capture answers the client itself, when it has decided. */
  end(): void;
}

/** Why a mint answer was not delivered as it came: the rules of mint-rules.ts and these. */
type RefusalRule =
  | 'unverified'
  | 'malformed'
  | 'jti_reused'
  | 'response_too_large'
  | 'unreadable'
  | 'parent_unknown'
  | 'internal'
  | MintRule;

export interface MintRecorderDeps {
  readonly lineage: LineageService;
  readonly events: SecurityEvents;
  readonly logger: Logger;
  /** Epoch ms: when a record says it was minted. */
  readonly clock: () => number;
}

/** One minting request as the proxy route knows it. */
export interface MintExchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly route: CompiledRoute;
  /** The token presented to the minting route, verified by the pipeline. */
  readonly parent: VerifiedToken;
  /** The request's configuration generation: its verifier, its lineage settings. */
  readonly verifier: TokenVerifier;
  readonly config: Config;
  readonly protection: Protection | undefined;
}

/**
 * Lineage recording on minting routes. A route with `mintIssuers` gets its 2xx JSON answers read
 * whole (at most lineage.maxResponseBytes, minting routes only); every JWT in `access_token`,
 * `id_token` and `refresh_token` is verified under the issuer it names (which must be one of
 * mintIssuers), held to the presented token (mint-rules.ts) and recorded before a byte of the
 * answer goes out. A minted token that fails is never delivered: 502 mint_refused, a critical
 * event naming the rule. Anything else (an error status, not JSON, no token in it) is delivered
 * exactly as the upstream sent it.
 */
export class MintRecorder {
  constructor(private readonly deps: MintRecorderDeps) {}

  capture(exchange: MintExchange): ResponseCapture | undefined {
    if (exchange.route.mintIssuers.size === 0) return undefined;
    return new MintCapture(this.deps, exchange);
  }
}

class MintCapture implements ResponseCapture {
  private readonly chunks: Buffer[] = [];
  private bytes = 0;
  private statusCode = 0;
  private headers: IncomingHttpHeaders = {};
  private readonly settings: LineageConfig;
  /**
   * An answer too large (or in a coding we cannot read) is refused, not passed through, when a
   * mint issuer requires lineage: its tokens would have no record and be refused at every use,
   * so delivering them would only hide the cause behind later lineage_unknown refusals.
   */
  private readonly mustCheck: boolean;
  /** Resolved now: by the time the answer is decided the request may have let go of its socket. */
  private readonly ip: string;

  constructor(
    private readonly deps: MintRecorderDeps,
    private readonly x: MintExchange,
  ) {
    this.settings = x.config.lineage;
    this.ip = clientAddress(x.protection, x.req);
    this.mustCheck = [...x.route.mintIssuers].some((id) => x.config.issuers[id]?.lineage === 'required');
  }

  begin(statusCode: number, headers: IncomingHttpHeaders): boolean {
    if (!mayBeTokenAnswer(this.x.req.method ?? 'GET', statusCode, headers)) return false;
    const declared = Number(headers['content-length']);
    if (declared > this.settings.maxResponseBytes && !this.mustCheck) {
      this.unchecked('response_too_large', `content-length ${declared}`);
      return false;
    }
    this.statusCode = statusCode;
    this.headers = headers;
    return true;
  }

  data(chunk: Buffer): CaptureStep {
    this.bytes += chunk.length;
    if (this.bytes <= this.settings.maxResponseBytes) {
      this.chunks.push(chunk);
      return 'held';
    }
    const note = `more than lineage.maxResponseBytes (${this.settings.maxResponseBytes})`;
    if (this.mustCheck) {
      this.refuse('response_too_large', note);
      return 'refused';
    }
    this.unchecked('response_too_large', note);
    const res = this.x.res;
    try {
      res.writeHead(this.statusCode, this.headers);
    } catch {
      res.destroy();
      return 'refused';
    }
    for (const held of this.chunks.splice(0)) res.write(held);
    res.write(chunk);
    return 'stream';
  }

  end(): void {
    this.settle().catch((err: unknown) => {
      this.deps.logger.error(
        { event: 'lineage.error', route: this.x.route.name, err },
        `mint answer not checked: ${(err as Error).message}`,
      );
      try {
        this.refuse('internal', 'the answer could not be checked');
      } catch {
        // Nothing more can be said to this client: a broken answer, never a hung one.
        this.x.res.destroy();
      }
    });
  }

  private async settle(): Promise<void> {
    const body = Buffer.concat(this.chunks, this.bytes);
    const encoding = this.headers['content-encoding'];
    const answer = readTokenAnswer(body, encoding, this.settings.maxResponseBytes);
    if (answer.kind === 'none') return this.deliver(body);
    if (answer.kind === 'unreadable') {
      if (this.mustCheck) return this.refuse('unreadable', answer.note);
      this.unchecked('unreadable', answer.note);
      return this.deliver(body);
    }
    if (answer.kind === 'malformed') return this.refuse('malformed', answer.note, { member: answer.member });
    const parent = this.x.parent;
    const parentAncestors = await this.ancestorsOf(parent);
    if (parentAncestors === undefined)
      return this.refuse('parent_unknown', 'the presented token is a minted one without a lineage record');
    const ancestors: AncestorFacts[] = [factsOf(parent), ...parentAncestors];
    const records: LineageRecord[] = [];
    for (const { member, token } of answer.tokens) {
      let child: VerifiedToken;
      try {
        child = await verifyMinted(this.x.verifier, token);
      } catch (err) {
        if (!(err instanceof AuthFailure)) throw err;
        return this.refuse('unverified', `${err.reason}${err.detail.note ? ` (${err.detail.note})` : ''}`, {
          member,
          token,
          detail: err.detail,
        });
      }
      const violation = mintViolation(
        child,
        parent,
        this.x.route.mintIssuers,
        parentAncestors.length,
        this.settings,
      );
      if (violation !== undefined)
        return this.refuse(violation.rule, violation.note, { member, token, child });
      records.push(
        recordOf(
          child,
          member,
          ancestors,
          this.x.route.name,
          this.deps.lineage.instanceName,
          this.deps.clock(),
        ),
      );
    }
    // A client that went away meanwhile gets nothing, so nothing is recorded for it.
    if (this.x.res.destroyed) return;
    let outcome: Awaited<ReturnType<LineageService['record']>>;
    try {
      outcome = await this.deps.lineage.record(records);
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      return this.unavailable(err);
    }
    if (outcome.kind === 'conflict') {
      const child = records.find((r) => r.id === outcome.record.id)?.child;
      return this.refuse('jti_reused', `jti ${child?.jti ?? '?'} is recorded for another token already`);
    }
    for (const record of records) this.minted(record, outcome.kind);
    this.deliver(body);
  }

  /** The presented token's own ancestors: none for an IdP token; a minted one's from its record. */
  private async ancestorsOf(parent: VerifiedToken): Promise<readonly AncestorFacts[] | undefined> {
    if (parent.issuer.role !== 'resource') return [];
    const jti = parent.claims.jti;
    if (jti === undefined) return undefined;
    const lineage = this.deps.lineage;
    const record =
      lineage.mirror.find(parent.issuer.id, jti) ??
      (lineage.looksUp ? await lineage.lookup(parent.issuer.id, jti) : undefined);
    if (record === undefined || record.child.fingerprint !== parent.fingerprint) return undefined;
    return record.ancestors;
  }

  private deliver(body: Buffer): void {
    const res = this.x.res;
    if (res.destroyed) return;
    const headers = this.headers;
    headers['content-length'] = String(body.length);
    try {
      res.writeHead(this.statusCode, headers);
    } catch (err) {
      this.deps.logger.warn(
        { event: 'upstream.error', route: this.x.route.name, err: (err as Error).message },
        'upstream response not forwardable',
      );
      res.destroy();
      return;
    }
    res.end(body);
  }

  private minted(record: LineageRecord, outcome: 'stored' | 'held'): void {
    const parent = record.ancestors[0]!;
    this.deps.events.notice(
      {
        event: 'token.minted',
        severity: 'low',
        route: record.route,
        child: {
          issuer: record.child.issuer,
          jti: record.child.jti,
          kind: record.child.kind,
          fingerprint: record.child.fingerprint,
          exp: record.child.exp,
        },
        parent: { issuer: parent.issuer, jti: parent.jti, fingerprint: parent.fingerprint },
        depth: record.ancestors.length,
        recorded: outcome,
      },
      `${record.child.kind} ${record.child.fingerprint} of ${record.child.issuer} minted from ${parent.fingerprint} of ${parent.issuer}`,
    );
  }

  /** Delivered without its tokens being read: said once per answer, high. */
  private unchecked(rule: RefusalRule, note: string): void {
    this.deps.events.notice(
      { event: 'lineage.unchecked', severity: 'high', route: this.x.route.name, rule, note },
      `mint answer delivered unchecked (${rule}): its tokens have no lineage record`,
    );
  }

  /** The store away under fail-closed: 503, the minted token not delivered (retry mints afresh). */
  private unavailable(err: Error): void {
    this.event('lineage_unavailable', 'high', { note: `lineage store: ${err.message}` }, undefined);
    this.answer('lineage_unavailable');
  }

  private refuse(
    rule: RefusalRule,
    note: string,
    about: { member?: MintedKind; token?: string; child?: VerifiedToken; detail?: FailureDetail } = {},
  ): void {
    this.deps.lineage.stats.mintRefused(rule);
    const child = about.child;
    const detail: FailureDetail =
      child !== undefined
        ? {
            claimedIssuer: child.issuer.iss,
            issuerId: child.issuer.id,
            kid: child.key.kid,
            alg: child.alg,
            sub: child.claims.sub,
            jti: child.claims.jti,
          }
        : (about.detail ?? {});
    const parent = this.x.parent;
    const what = about.member === undefined ? '' : `${about.member} `;
    this.event(
      'mint_refused',
      'critical',
      {
        ...detail,
        note: `${rule}: ${what}${note}; minted from ${parent.fingerprint} of ${parent.issuer.id}`,
      },
      about.token,
    );
    this.answer('mint_refused');
  }

  private answer(reason: 'mint_refused' | 'lineage_unavailable'): void {
    const res = this.x.res;
    if (res.destroyed || res.headersSent) {
      res.destroy();
      return;
    }
    writeLegRefusal(this.x.req, res, reason);
  }

  private event(
    reason: 'mint_refused' | 'lineage_unavailable',
    severity: 'critical' | 'high',
    d: FailureDetail,
    token: string | undefined,
  ): void {
    const { req, route } = this.x;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    this.deps.events.refused({
      event: 'auth.refused',
      reason,
      severity,
      status: REASONS[reason].status,
      route: route.name,
      method: req.method ?? '',
      path: redactUrl(q === -1 ? url : url.slice(0, q)),
      ip: this.ip,
      claimedIssuer: d.claimedIssuer,
      issuerId: d.issuerId,
      keyIssuer: d.keyIssuer,
      kid: d.kid,
      alg: d.alg,
      sub: d.sub,
      jti: d.jti,
      tokenFingerprint: token === undefined ? undefined : tokenFingerprint(token),
      signatureValid: d.signatureValid,
      binding: undefined,
      presented: undefined,
      htu: undefined,
      note: d.note,
    });
  }
}

/** A minted token verified as any presented token is: its issuer by `iss`, its key in that issuer's set only. */
async function verifyMinted(verifier: TokenVerifier, token: string): Promise<VerifiedToken> {
  try {
    return verifier.verify(token, true);
  } catch (err) {
    if (!(err instanceof KeyRefetchPending)) throw err;
    // A key the minting issuer published since its set was last fetched: one refetch, then decide.
    await err.settled;
    return verifier.verify(token, false);
  }
}

function factsOf(token: VerifiedToken): AncestorFacts {
  const { claims } = token;
  const sid = typeof claims.sid === 'string' ? claims.sid : undefined;
  return {
    issuer: token.issuer.id,
    jti: claims.jti,
    sub: claims.sub ?? '',
    iat: claims.iat ?? 0,
    exp: claims.exp ?? 0,
    kid: token.key.kid,
    keyThumbprint: token.key.thumbprint,
    fingerprint: token.fingerprint,
    ...(sid === undefined ? {} : { sid }),
  };
}

function recordOf(
  child: VerifiedToken,
  kind: MintedKind,
  ancestors: readonly AncestorFacts[],
  route: string,
  by: string,
  now: number,
): LineageRecord {
  const { claims } = child;
  // mintViolation has made sure of jti, sub and exp.
  const jti = claims.jti!;
  const exp = claims.exp!;
  return {
    id: lineageId(child.issuer.id, jti),
    child: {
      issuer: child.issuer.id,
      jti,
      sub: claims.sub!,
      iat: claims.iat ?? 0,
      exp,
      kid: child.key.kid,
      fingerprint: child.fingerprint,
      kind,
    },
    ancestors,
    route,
    at: new Date(now).toISOString(),
    by,
    expiresAt: (exp + child.issuer.clockSkewSeconds) * 1000,
  };
}

/** The client as source admission saw it (trusted proxies' X-Forwarded-For), for the event and blocks. */
function clientAddress(protection: Protection | undefined, req: IncomingMessage): string {
  if (req.socket === null) return 'unknown';
  if (protection === undefined) return socketAddress(req);
  try {
    return protection.admitSource(req);
  } catch {
    return socketAddress(req);
  }
}
