import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { type RevocationSpec, revocationId } from '../revocation/revocation-record.js';
import { RevocationRefusedError, type RevocationService } from '../revocation/revocation-service.js';
import type { SignalAction, SignalPlan } from './map-event.js';
import type { SignalState } from './signal-state.js';
import type { ValidSet } from './validate-set.js';

// An account disabled or purged refuses the subject's tokens whatever their iat: a subject
// revocation "before" an instant no token reaches. Two instants, so that account-enabled lifts
// a disablement and never a purge. Real watermarks are compared below the floor only.
export const ACCOUNT_DISABLED_BEFORE = '9999-01-01T00:00:00.000Z';
export const ACCOUNT_PURGED_BEFORE = '9999-12-31T23:59:59.000Z';
const SENTINEL_FLOOR_SECONDS = Date.parse('9000-01-01T00:00:00Z') / 1000;

export interface ApplyDeps {
  readonly revocations: RevocationService;
  /** The signal family (store-first: each write resolves once stored). */
  readonly state: SignalState;
  readonly logger: Logger;
  readonly clock: () => number;
}

export const VERIFIED = 'stream verified: the state asked for came back';
export const VERIFICATION_UNEXPECTED = 'a state not asked for, expired or already used: not verified';

/** What applying did, for the log line: one entry per action. */
export type ActionResult = { readonly action: SignalAction['do']; readonly result: string };

/**
 * Carries out a plan: every revocation through the revocation service (stored before this
 * resolves; a store away rejects with StoreUnavailableError, so nothing is acknowledged and
 * lost), states, blocks and stream states in the signal family. Every step is idempotent: a SET applied again
 * after a crash between two steps ends in the same state, and the audit trail has each
 * revocation once.
 */
export async function applyPlan(set: ValidSet, plan: SignalPlan, deps: ApplyDeps): Promise<ActionResult[]> {
  const facts = {
    reason: `${set.eventName ?? set.eventUri}: ${plan.summary}; SET jti ${set.jti}`,
    by: `ssf:${set.transmitter.name}`,
    source: 'ssf' as const,
  };
  const revoke = async (spec: RevocationSpec): Promise<string> => {
    const { record, created } = await deps.revocations.revoke(spec, facts);
    return `${created ? 'revoked' : 'already revoked'} ${record.id}`;
  };
  const results: ActionResult[] = [];
  for (const action of plan.actions) {
    results.push({ action: action.do, result: await applyAction(action, set, deps, revoke) });
  }
  return results;
}

async function applyAction(
  action: SignalAction,
  set: ValidSet,
  deps: ApplyDeps,
  revoke: (spec: RevocationSpec) => Promise<string>,
): Promise<string> {
  const name = set.transmitter.name;
  switch (action.do) {
    case 'watermark': {
      // iat <= event time is refused: `before` is the next second (the check is iat < before).
      const beforeSeconds = Math.floor(action.at) + 1;
      const current = deps.revocations.mirror.subjectRevokedBefore(action.issuerId, action.sub);
      if (current !== undefined && current < SENTINEL_FLOOR_SECONDS && current >= beforeSeconds)
        return 'watermark already at or above the event';
      return revoke({
        kind: 'subject',
        issuer: action.issuerId,
        sub: action.sub,
        before: new Date(beforeSeconds * 1000).toISOString(),
      });
    }
    case 'revoke-session':
      return revoke({ kind: 'session', issuer: action.issuerId, sid: action.sid, exp: action.exp });
    case 'revoke-token':
      return revoke({ kind: 'token', issuer: action.issuerId, jti: action.jti, exp: action.exp });
    case 'account': {
      const key = `account\u0000${action.issuerId}\u0000${action.sub}`;
      if (!(await deps.state.advance(key, action.at, action.state)))
        return 'a later account event is already applied: nothing changes';
      const spec = (before: string): RevocationSpec => ({
        kind: 'subject',
        issuer: action.issuerId,
        sub: action.sub,
        before,
      });
      if (action.state === 'disabled') return revoke(spec(ACCOUNT_DISABLED_BEFORE));
      if (action.state === 'purged') return revoke(spec(ACCOUNT_PURGED_BEFORE));
      try {
        await deps.revocations.unrevoke(revocationId(spec(ACCOUNT_DISABLED_BEFORE)), `ssf:${name}`);
        return 'disablement lifted';
      } catch (err) {
        if (err instanceof RevocationRefusedError && err.status === 404) return 'was not disabled';
        throw err;
      }
    }
    case 'block': {
      const key = `block\u0000${action.signal}\u0000${action.issuerId}\u0000${action.sub}`;
      if (!(await deps.state.advance(key, action.at, action.value)))
        return `a later ${action.signal} is already applied: nothing changes`;
      const id = blockId(action.signal, action.issuerId, action.sub);
      if (!action.blocked) {
        await deps.state.removeBlock(id);
        return `${action.value}: block lifted`;
      }
      await deps.state.putBlock({
        id,
        transmitter: name,
        issuerId: action.issuerId,
        sub: action.sub,
        signal: action.signal,
        value: action.value,
        at: action.at,
        jti: set.jti,
      });
      return `${action.value}: blocked`;
    }
    case 'stream': {
      if (!(await deps.state.advance(`stream\u0000${name}`, action.at, action.state)))
        return 'a later stream event is already applied: nothing changes';
      await deps.state.patchTransmitter(name, {
        stream: action.state,
        streamReason: action.reason ?? null,
        streamSince: new Date(action.at * 1000).toISOString(),
      });
      return `stream ${action.state}`;
    }
    case 'verification': {
      // SSF 1.0 section 8.1.4: only a state this receiver asked for (signals verify) verifies the
      // stream, once; any other is acknowledged and reported (signal-receiver.ts).
      const asked = action.state !== undefined && (await deps.state.consumeVerification(name, action.state));
      const at = new Date(deps.clock()).toISOString();
      await deps.state.patchTransmitter(
        name,
        asked
          ? { lastVerificationAt: at, lastVerification: 'verified', lastVerifiedAt: at }
          : { lastVerificationAt: at, lastVerification: 'unexpected' },
      );
      return asked ? VERIFIED : VERIFICATION_UNEXPECTED;
    }
  }
}

/** One block per subject and signal: a later event of that signal replaces or lifts it. */
export function blockId(signal: string, issuerId: string, sub: string): string {
  return `sig-${createHash('sha256')
    .update(JSON.stringify([signal, issuerId, sub]))
    .digest('hex')
    .slice(0, 16)}`;
}

/** The key under which a SET counts as applied: (iss, jti), hashed to a fixed length. */
export function appliedKey(iss: string, jti: string): string {
  return createHash('sha256')
    .update(JSON.stringify([iss, jti]))
    .digest('hex')
    .slice(0, 32);
}
