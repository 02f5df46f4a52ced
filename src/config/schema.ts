// The configuration contract. The TypeScript types of the whole program are derived from
// this one schema (z.infer / z.input), so a setting is declared exactly once.
import { z } from 'zod';

export const SUPPORTED_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;
export type Algorithm = (typeof SUPPORTED_ALGORITHMS)[number];
const supported: ReadonlySet<string> = new Set(SUPPORTED_ALGORITHMS);

const algorithm = z.string().superRefine((alg, ctx) => {
  if (alg.toLowerCase() === 'none' || alg.toUpperCase().startsWith('HS')) {
    ctx.addIssue({
      code: 'custom',
      message: `${alg} is refused: a token must be signed with an asymmetric key the gateway can only verify`,
    });
  } else if (!supported.has(alg)) {
    ctx.addIssue({
      code: 'custom',
      message: `unsupported algorithm ${alg} (use ${SUPPORTED_ALGORITHMS.join(', ')})`,
    });
  }
}) as unknown as z.ZodType<Algorithm>;

const instant = z.iso.datetime({
  offset: true,
  message: 'must be an RFC 3339 instant, e.g. 2024-01-01T00:00:00Z',
});
const id = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'must be letters, digits, dot, dash or underscore');
const port = z.number().int().min(0).max(65535);
const stringOrList = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

const keyWindow = z.strictObject({ notBefore: instant.optional(), notAfter: instant.optional() });

const issuerSchema = z.strictObject({
  issuer: z.string().min(1),
  role: z.enum(['identity-provider', 'resource']),
  keys: z.strictObject({ file: z.string().min(1) }),
  algorithms: z.array(algorithm).min(1),
  clockSkewSeconds: z.number().int().min(0).max(3600).default(60),
  maxTokenLifetimeSeconds: z.number().int().positive().optional(),
  requireTyp: z.string().min(1).optional(),
  tenants: z.array(z.string().min(1)).min(1).optional(),
  keyValidity: z.record(z.string(), keyWindow).optional(),
});

const routeSchema = z.strictObject({
  name: id,
  prefix: z
    .string()
    .regex(/^\/[A-Za-z0-9._~!$&'()*+,;=:@/-]*$/, 'must be an absolute path')
    .refine((p) => p === '/' || !p.endsWith('/'), 'must not end with "/"'),
  upstream: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }),
  audience: stringOrList,
  issuers: z.array(id).min(1),
  scopes: z.array(z.string().min(1)).default([]),
  mintsTokens: z.boolean().default(false),
  allowDelegation: z.boolean().default(false),
  forwardToken: z.boolean().default(true),
  rewritePrefix: z.string().optional(),
  timeoutSeconds: z.number().positive().max(3600).default(30),
});

const revocationsSchema = z.strictObject({
  keys: z
    .array(z.strictObject({ issuer: id, kid: z.string().min(1), reason: z.string().optional() }))
    .default([]),
  tokens: z
    .array(
      z.strictObject({
        issuer: id,
        jti: z.string().min(1),
        exp: z.number().int().optional(),
        reason: z.string().optional(),
      }),
    )
    .default([]),
  subjects: z
    .array(
      z.strictObject({ issuer: id, sub: z.string().min(1), before: instant, reason: z.string().optional() }),
    )
    .default([]),
  issuers: z
    .array(z.strictObject({ issuer: id, before: instant, reason: z.string().optional() }))
    .default([]),
});

const storeSchema = z.strictObject({
  kind: z.enum(['memory', 'redis']).default('memory'),
  url: z.string().optional(),
  prefix: z.string().default('provgate:'),
  onUnavailable: z.enum(['serve-stale', 'fail-closed']).default('serve-stale'),
  maxStaleSeconds: z.number().positive().default(60),
  resyncSeconds: z.number().positive().default(5),
  /** Passed through to ioredis: Sentinel (`sentinels`, `name`) or Cluster (`cluster: [...]`). */
  redisOptions: z.record(z.string(), z.unknown()).optional(),
});

export const configSchema = z.strictObject({
  listen: z.strictObject({ host: z.string().default('127.0.0.1'), port: port.default(8080) }).prefault({}),
  /** Processes serving the listeners (node:cluster); `auto` is one per core. More than one needs the Redis store. */
  workers: z.union([z.number().int().min(1).max(64), z.literal('auto')]).default(1),
  admin: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: port.default(9901),
      token: z.string().min(16, 'must be at least 16 characters').optional(),
    })
    .prefault({}),
  issuers: z
    .record(id, issuerSchema)
    .refine((m) => Object.keys(m).length > 0, 'at least one issuer is required'),
  routes: z.array(routeSchema).min(1),
  revocations: revocationsSchema.prefault({}),
  store: storeSchema.prefault({}),
  verification: z
    .strictObject({
      maxTokenBytes: z.number().int().min(256).max(65536).default(16384),
      cache: z
        .strictObject({
          enabled: z.boolean().default(true),
          maxEntries: z.number().int().min(1).default(100_000),
          maxBytes: z
            .number()
            .int()
            .min(1024)
            .default(64 * 1024 * 1024),
        })
        .prefault({}),
      /** Signature checks per second spent on refused key-step tokens to tell forgery from probe. */
      forgeryChecksPerSecond: z.number().int().min(0).default(50),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      access: z.boolean().default(false),
    })
    .prefault({}),
});

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type IssuerConfig = Config['issuers'][string];
export type RouteConfig = Config['routes'][number];
export type RevocationsConfig = Config['revocations'];
export type StoreConfig = Config['store'];
