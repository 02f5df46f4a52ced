import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { JWK, JWTPayload } from 'jose';
import { stringify } from 'yaml';
import { type DevKeyPair, jwksOf, type MintOptions, mintToken } from '../../src/demo/dev-keys.js';
import { createLogger } from '../../src/observability/logger.js';
import { type RunningGateway, startGateway } from '../../src/server.js';
import type { KeyRing } from './key-ring.js';

export const ISS = {
  enterprise: 'https://login.example.test/enterprise/v2.0',
  consumer: 'https://login.example.test/consumer/v2.0',
  owa: 'https://mail.example.test/owa',
} as const;
export const AUDIENCE = 'https://mail.example.test';

// Every gateway test wants the ring too: one import.
export { type KeyRing, keyRing } from './key-ring.js';

/** Captured JSON log lines of one gateway, and the raw text to grep for leaked secrets. */
export class LogCapture extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  text = '';

  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    const s = chunk.toString('utf8');
    this.text += s;
    for (const line of s.split('\n'))
      if (line.trim() !== '') this.lines.push(JSON.parse(line) as Record<string, unknown>);
    done();
  }

  events(reason?: string): Record<string, unknown>[] {
    return this.lines.filter(
      (l) => l.event === 'auth.refused' && (reason === undefined || l.reason === reason),
    );
  }
}

export interface ConfigOverrides {
  readonly upstream: string;
  readonly issuers?: Record<string, unknown>;
  readonly routes?: unknown[];
  readonly extra?: Record<string, unknown>;
}

/** The reference configuration, with keys written into `dir`. */
export function referenceConfig(dir: string, ring: KeyRing, o: ConfigOverrides): Record<string, unknown> {
  writeFileSync(
    join(dir, 'enterprise.jwks.json'),
    JSON.stringify(jwksOf([ring.enterprise, ring.enterpriseEs])),
  );
  writeFileSync(join(dir, 'consumer.jwks.json'), JSON.stringify(jwksOf([ring.consumer])));
  writeFileSync(join(dir, 'owa.jwks.json'), JSON.stringify(jwksOf([ring.owa])));
  return {
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0, token: 'test-admin-token-0123456789' },
    issuers: {
      enterprise: {
        issuer: ISS.enterprise,
        role: 'identity-provider',
        keys: { file: 'enterprise.jwks.json' },
        algorithms: ['RS256', 'ES256'],
        ...((o.issuers?.enterprise as object | undefined) ?? {}),
      },
      consumer: {
        issuer: ISS.consumer,
        role: 'identity-provider',
        keys: { file: 'consumer.jwks.json' },
        algorithms: ['RS256'],
        ...((o.issuers?.consumer as object | undefined) ?? {}),
      },
      owa: {
        issuer: ISS.owa,
        role: 'resource',
        keys: { file: 'owa.jwks.json' },
        algorithms: ['ES256'],
        ...((o.issuers?.owa as object | undefined) ?? {}),
      },
    },
    routes: o.routes ?? [
      {
        name: 'mail',
        prefix: '/api/mail',
        upstream: o.upstream,
        audience: AUDIENCE,
        issuers: ['enterprise', 'consumer'],
        scopes: ['Mail.Read'],
      },
      {
        name: 'token',
        prefix: '/api/token',
        upstream: o.upstream,
        audience: AUDIENCE,
        issuers: ['enterprise', 'consumer'],
        mintsTokens: true,
      },
      {
        name: 'resource',
        prefix: '/api/resource',
        upstream: o.upstream,
        audience: AUDIENCE,
        issuers: ['enterprise', 'owa'],
      },
    ],
    log: { level: 'info' },
    ...o.extra,
  };
}

export interface TestGateway {
  readonly running: RunningGateway;
  readonly url: string;
  readonly adminUrl: string;
  readonly logs: LogCapture;
  readonly dir: string;
  close(): Promise<void>;
}

/** Writes `config` as YAML into a temp dir (or `dir`) and starts a real gateway on it. */
export async function startTestGateway(
  config: Record<string, unknown>,
  options: { dir?: string; clock?: () => number; env?: NodeJS.ProcessEnv } = {},
): Promise<TestGateway> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'provgate-test-'));
  const path = join(dir, 'gateway.yaml');
  writeFileSync(path, stringify(config));
  const logs = new LogCapture();
  const level = ((config.log as { level?: string } | undefined)?.level ?? 'info') as string;
  const running = await startGateway(path, {
    logger: createLogger(level, logs),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.env ? { env: options.env } : {}),
  });
  return {
    running,
    url: running.proxyUrl,
    adminUrl: running.adminUrl,
    logs,
    dir,
    close: async () => {
      await running.close(1000);
      if (options.dir === undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'provgate-test-'));
}

/** A token as the enterprise IdP would issue it for the mail API, with overrides. */
export function enterpriseClaims(extra: JWTPayload = {}): JWTPayload {
  return {
    iss: ISS.enterprise,
    sub: 'alice',
    aud: AUDIENCE,
    scp: 'Mail.Read Mail.Send',
    tid: 'tid-a',
    ...extra,
  };
}

export function sign(key: DevKeyPair | JWK, claims: JWTPayload, options?: MintOptions): Promise<string> {
  const jwk = 'privateJwk' in key ? (key as DevKeyPair).privateJwk : (key as JWK);
  return mintToken(jwk, claims, options);
}
