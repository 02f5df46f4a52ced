import type { JWTPayload } from 'jose';
import { type DevKeyPair, generateDevKey } from '../../src/demo/dev-keys.js';
import type { TestClock } from './clock.js';
import {
  type ConfigOverrides,
  type KeyRing,
  referenceConfig,
  sign,
  type TestGateway,
} from './gateway-fixture.js';

let ecRing: Promise<KeyRing> | undefined;

/**
 * The reference key ring with EC keys only (same kids): generating RSA keys costs seconds per
 * test file, and nothing about key sets depends on the key type.
 */
export function ecKeyRing(): Promise<KeyRing> {
  ecRing ??= (async () => ({
    enterprise: await generateDevKey('ES256', 'ent-2024'),
    enterpriseEs: await generateDevKey('ES256', 'ent-es-1'),
    consumer: await generateDevKey('ES256', 'msa-2016'),
    owa: await generateDevKey('ES256', 'owa-1'),
    stray: await generateDevKey('ES256', 'stray-1'),
  }))();
  return ecRing;
}

/** referenceConfig for an EC ring: the consumer issuer also accepts ES256. */
export function ecReferenceConfig(dir: string, ring: KeyRing, o: ConfigOverrides): Record<string, unknown> {
  const consumer = { algorithms: ['RS256', 'ES256'], ...((o.issuers?.consumer as object | undefined) ?? {}) };
  return referenceConfig(dir, ring, { ...o, issuers: { ...o.issuers, consumer } });
}

/** Copies of `token` that differ only in the header's kid: for floods that die at the key step. */
export function withKids(token: string, kids: readonly string[]): string[] {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const decoded = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as Record<string, unknown>;
  return kids.map((kid) => {
    const rewritten = Buffer.from(JSON.stringify({ ...decoded, kid })).toString('base64url');
    return `${rewritten}.${payload}.${signature}`;
  });
}

/** A token issued "now" by the test clock; `kid` overrides the key's own. */
export function signAt(key: DevKeyPair, claims: JWTPayload, clock: TestClock, kid?: string): Promise<string> {
  return sign(key, claims, { now: clock.seconds, ...(kid === undefined ? {} : { header: { kid } }) });
}

/** Log lines of one `event` (keys.refreshed, keys.shared_material, config.warning, ...). */
export function logEvents(gw: TestGateway, event: string): Record<string, unknown>[] {
  return gw.logs.lines.filter((l) => l.event === event);
}
