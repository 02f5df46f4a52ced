import type { IssuerRegistry } from '../keys/issuer-registry.js';
import { type KeyEntry, keyActiveAt, keySupportsAlg } from '../keys/key-entry.js';
import type { ParsedToken } from '../verify/parse-token.js';
import { verifySignature } from '../verify/verify-signature.js';
import type { CompiledSignals, CompiledTransmitter } from './compile-signals.js';
import { SetError } from './set-error.js';

/** Thrown when the transmitter's remote set has never loaded: the SET may be sent again later. */
export class TransmitterKeysUnavailable extends Error {
  constructor(readonly transmitter: string) {
    super(`the key set of transmitter ${transmitter} has never loaded`);
    this.name = 'TransmitterKeysUnavailable';
  }
}

/** Who else holds a kid a SET names: for the log of an invalid_key refusal. */
export interface ForeignKey {
  readonly owner: string;
  /** Whether the SET's signature verifies under that key: someone holds it and signs SETs with it. */
  readonly signatureValid: boolean;
}

export class ForeignKeyError extends SetError {
  constructor(
    description: string,
    readonly foreign: ForeignKey,
  ) {
    super('invalid_key', description);
  }
}

/**
 * The key a SET is verified with: looked up by kid in its transmitter's set and nowhere else,
 * the same rule as for tokens. A kid of a token issuer or of another transmitter is refused
 * (invalid_key) and named in the log, with whether the signature verifies under that key.
 */
export async function selectSetKey(
  set: ParsedToken,
  transmitter: CompiledTransmitter,
  signals: CompiledSignals,
  tokenIssuers: IssuerRegistry,
  nowMs: number,
): Promise<KeyEntry> {
  const { alg, kid } = set.header;
  if (!(transmitter.algorithms as ReadonlySet<string>).has(alg))
    throw new SetError('invalid_key', `alg ${alg} is not on transmitter ${transmitter.name}'s list`);
  let key = lookUp(transmitter, kid, alg);
  if (key === undefined && kid !== undefined) {
    // A key published since the last fetch: one shared, rate-limited refetch, as for tokens.
    const refetch = signals.keySets.refetchFor(transmitter.name, nowMs);
    if (refetch !== undefined) {
      await refetch;
      key = lookUp(transmitter, kid, alg);
    }
  }
  if (key === undefined) {
    const foreign =
      kid === undefined
        ? []
        : [...tokenIssuers.foreignKeys(kid, ''), ...signals.registry.foreignKeys(kid, transmitter.name)];
    if (foreign.length > 0) {
      const owner = foreign[0]!;
      const signatureValid = foreign.some(
        (k) => keySupportsAlg(k, alg) && verifySignature(alg, k, set.signingInput, set.signature),
      );
      const whose = tokenIssuers.byId.has(owner.issuerId) ? 'issuer' : 'transmitter';
      throw new ForeignKeyError(
        `kid ${kid} is a key of ${whose} ${owner.issuerId}, not of this transmitter; its SETs are verified under its own keys only`,
        { owner: `${whose} ${owner.issuerId}`, signatureValid },
      );
    }
    if (!transmitter.keyOwner.keys.loaded) throw new TransmitterKeysUnavailable(transmitter.name);
    throw new SetError(
      'invalid_key',
      kid === undefined ? 'no kid, and the key cannot be told from the set' : `unknown kid ${kid}`,
    );
  }
  if (key.alsoClaimedBy !== undefined)
    throw new SetError(
      'invalid_key',
      `key ${key.kid} is also published by ${key.alsoClaimedBy}; refused for both`,
    );
  // '' is never an issuer id: any token issuer holding this material.
  const tokenOwner = tokenIssuers.otherOwnerOf(key.thumbprint, '');
  if (tokenOwner !== undefined)
    throw new SetError(
      'invalid_key',
      `key ${key.kid} is also a key of issuer ${tokenOwner}; a token key never signs a SET`,
    );
  if (!keySupportsAlg(key, alg)) throw new SetError('invalid_key', `key ${key.kid} cannot sign ${alg}`);
  if ((key.removedAfter !== undefined && nowMs >= key.removedAfter) || !keyActiveAt(key, nowMs))
    throw new SetError('invalid_key', `key ${key.kid} is not active`);
  if (!verifySignature(alg, key, set.signingInput, set.signature))
    throw new SetError('invalid_key', `the signature does not verify under key ${key.kid}`);
  return key;
}

function lookUp(
  transmitter: CompiledTransmitter,
  kid: string | undefined,
  alg: string,
): KeyEntry | undefined {
  const keys = transmitter.keyOwner.keys;
  if (kid !== undefined) return keys.byKid.get(kid);
  let found: KeyEntry | undefined;
  for (const key of keys.all) {
    if (!keySupportsAlg(key, alg)) continue;
    if (found !== undefined) return undefined;
    found = key;
  }
  return found;
}
