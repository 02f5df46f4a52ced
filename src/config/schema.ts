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

/** Defaults of a remote key source; applied below so that options given for a file can be refused. */
export const KEY_SOURCE_DEFAULTS = {
  refreshSeconds: 3600,
  cooldownSeconds: 30,
  removedKeyGraceSeconds: 0,
  timeoutSeconds: 5,
  maxBytes: 1024 * 1024,
  shared: false,
  newKeys: 'trust',
  trustOnFirstLoad: true,
  maxQuarantined: 100,
} as const;
const REMOTE_OPTIONS = Object.keys(KEY_SOURCE_DEFAULTS) as (keyof typeof KEY_SOURCE_DEFAULTS)[];
const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/;

/** Keys fetched over plain HTTP could be swapped by anyone on the path; only a local IdP may use it. */
export function isSafeKeyUrl(u: string): boolean {
  const url = new URL(u);
  return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOST.test(url.hostname));
}
const keyUrl = z
  .url({ protocol: /^https?$/, message: 'must be an http(s) URL' })
  .refine(isSafeKeyUrl, 'must be https (plain http only for a loopback host)');

// Where an issuer's keys come from: a JWKS file, a JWKS URL, or an OpenID discovery document.
const keySourceSchema = z
  .strictObject({
    file: z.string().min(1).optional(),
    url: keyUrl.optional(),
    discovery: keyUrl.optional(),
    refreshSeconds: z.number().int().min(60).max(86400).optional(),
    cooldownSeconds: z.number().min(1).max(3600).optional(),
    removedKeyGraceSeconds: z.number().min(0).max(604800).optional(),
    timeoutSeconds: z.number().positive().max(60).optional(),
    maxBytes: z
      .number()
      .int()
      .min(1024)
      .max(16 * 1024 * 1024)
      .optional(),
    shared: z.boolean().optional(),
    /** `quarantine`: a key first seen after the first load is refused until trusted (key_quarantined). */
    newKeys: z.enum(['trust', 'quarantine']).optional(),
    /** Soak time: a quarantined key is trusted by itself this long after it was first seen. */
    quarantineSeconds: z
      .number()
      .int()
      .min(1)
      .max(365 * 86_400)
      .optional(),
    /** The keys of the issuer's first successful load are trusted; false: every key starts quarantined. */
    trustOnFirstLoad: z.boolean().optional(),
    /** Quarantined keys at once; new keys past it are not used (unknown_key), with one summary event. */
    maxQuarantined: z.number().int().min(1).max(10_000).optional(),
    /** RFC 7638 thumbprints (SHA-256, base64url): the only keys ever trusted for this issuer. */
    pin: z
      .array(
        z
          .string()
          .regex(/^[A-Za-z0-9_-]{43}$/, 'must be an RFC 7638 SHA-256 thumbprint (43 base64url characters)'),
      )
      .min(1)
      .optional(),
  })
  .superRefine((keys, ctx) => {
    const sources = (['file', 'url', 'discovery'] as const).filter((k) => keys[k] !== undefined);
    if (keys.quarantineSeconds !== undefined && keys.newKeys !== 'quarantine') {
      ctx.addIssue({
        code: 'custom',
        path: ['quarantineSeconds'],
        message: 'applies only with newKeys: quarantine',
      });
    }
    if (sources.length !== 1) {
      ctx.addIssue({ code: 'custom', message: 'exactly one of file, url or discovery is required' });
    }
    if (keys.file !== undefined) {
      for (const option of REMOTE_OPTIONS) {
        if (keys[option] !== undefined) {
          ctx.addIssue({ code: 'custom', path: [option], message: 'applies only to url or discovery' });
        }
      }
    }
    // A set published for several issuers is safe only with per-key issuer binding, which
    // discovery documents never describe: one issuer, one discovery document.
    if (keys.shared === true && keys.url === undefined) {
      ctx.addIssue({ code: 'custom', path: ['shared'], message: 'allowed only with url' });
    }
  })
  .transform((keys) => ({ ...KEY_SOURCE_DEFAULTS, ...withoutUndefined(keys) }));

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

const issuerSchema = z.strictObject({
  issuer: z.string().min(1),
  /** `operators`: signs operator tokens for the admin API only (admin.operators); no route may accept it. */
  role: z.enum(['identity-provider', 'resource', 'operators']),
  keys: keySourceSchema,
  algorithms: z.array(algorithm).min(1),
  clockSkewSeconds: z.number().int().min(0).max(3600).default(60),
  maxTokenLifetimeSeconds: z.number().int().positive().optional(),
  requireTyp: z.string().min(1).optional(),
  tenants: z.array(z.string().min(1)).min(1).optional(),
  keyValidity: z.record(z.string(), keyWindow).optional(),
  /** `required`: every token of this issuer must be sender-constrained (DPoP or certificate), on every route. */
  boundTokens: z.enum(['optional', 'required']).default('optional'),
  /**
   * For a `resource` issuer: whether its tokens must come with a lineage record, made when a
   * route with `mintIssuers` naming it delivered them (`required`: 401 lineage_unknown without
   * one, parent_revoked once an ancestor is); `monitor` logs what `required` would refuse.
   */
  lineage: z.enum(['off', 'monitor', 'required']).default('off'),
});

// introspection: a route that asks the token's issuer whether the token is still active (RFC
// 7662). Client credentials are secrets: they must come from the environment (`${VAR}`), checked
// before expansion (src/config/env-only-secrets.ts), and are never logged.
const introspectionSchema = z
  .strictObject({
    /** The issuer id whose tokens this asks about; its discovery document names the endpoint. */
    issuer: id,
    /** The introspection endpoint; default `introspection_endpoint` of the issuer's discovery document. */
    endpoint: keyUrl.optional(),
    clientId: z.string().min(1),
    /** Sent as client_secret_basic (RFC 6749 section 2.3.1). */
    clientSecret: z.string().min(1).optional(),
    /** private_key_jwt (RFC 7523): a private JWK as JSON, signing a fresh client assertion per request. */
    privateKeyJwt: z.strictObject({ jwk: z.string().min(1), alg: algorithm.optional() }).optional(),
    /** How long an answer is kept per token; never beyond the token's `exp`. */
    cacheSeconds: z.number().int().min(0).max(300).default(30),
    timeoutSeconds: z.number().positive().max(30).default(2),
    /** Endpoint down, slow or answering nonsense: 503 introspection_unavailable, or the local verdict. */
    onUnavailable: z.enum(['fail-closed', 'serve-verified']).default('fail-closed'),
    /** Requests in flight to the endpoint at once (shared by every route using it); more wait, briefly. */
    maxConcurrent: z.number().int().min(1).max(1024).default(16),
    /** Larger answers are refused unread past this many bytes. */
    maxResponseBytes: z
      .number()
      .int()
      .min(256)
      .max(1024 * 1024)
      .default(16 * 1024),
    /** Answers kept at most (per endpoint). */
    cacheEntries: z.number().int().min(1).max(1_000_000).default(10_000),
  })
  .superRefine((i, ctx) => {
    if ((i.clientSecret === undefined) === (i.privateKeyJwt === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'exactly one of clientSecret or privateKeyJwt is required' });
    }
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
  /**
   * With mintsTokens: the `resource` issuers whose tokens this route's upstream mints. Its 2xx
   * JSON token answers are read, each minted JWT verified under one of these issuers and checked
   * against the presented token (lineage:), and recorded before it is delivered.
   */
  mintIssuers: z.array(id).default([]),
  allowDelegation: z.boolean().default(false),
  forwardToken: z.boolean().default(true),
  rewritePrefix: z.string().optional(),
  /** Arrival to the upstream's response headers: queueing, upload and the upstream's wait. */
  timeoutSeconds: z.number().positive().max(3600).default(30),
  /** Longest pause in the client's request body: a trickled upload must not hold a connection. */
  bodyIdleTimeoutSeconds: z.number().positive().max(3600).default(10),
  /**
   * Which proof of possession this route requires: a DPoP proof (RFC 9449), the client
   * certificate a token is bound to (RFC 8705), either, or none. A token that carries a binding
   * (`cnf.jkt`, `cnf["x5t#S256"]`) is held to it on every route, whatever this says.
   */
  senderConstraint: z.enum(['none', 'dpop', 'mtls', 'any']).default('none'),
  /** DPoP proof algorithms this route accepts; default `dpop.algorithms`. */
  dpopAlgorithms: z.array(algorithm).min(1).optional(),
  /** Ask the issuer whether the token is still live (RFC 7662), after every local check passed. */
  introspection: introspectionSchema.optional(),
});

/** The keep-alive pool kept for each upstream origin (one per origin, per configuration). */
const upstreamsSchema = z.strictObject({
  connections: z.number().int().min(1).max(4096).default(128),
  /** Requests waiting for a connection beyond `connections`; more are refused with 503 upstream_busy. */
  maxQueued: z.number().int().min(0).max(65536).default(128),
  retryAfterSeconds: z.number().int().min(1).max(3600).default(1),
});

// One schema per kind of revocation, for everything that names one: the `revocations:` lists
// below (listed by kind, with a reason), the admin API and the CLI (with `kind`, a reason and
// `by`: src/revocation/revocation-request.ts), and the stored record (RevocationSpec).
const revocationText = z.string().min(1).max(512);
const revocationExp = z.number().int().positive().optional();
export const keyRevocationSchema = z.strictObject({
  kind: z.literal('key'),
  issuer: id,
  kid: revocationText,
});
export const tokenRevocationSchema = z.strictObject({
  kind: z.literal('token'),
  issuer: id,
  jti: revocationText,
  exp: revocationExp,
});
export const subjectRevocationSchema = z.strictObject({
  kind: z.literal('subject'),
  issuer: id,
  sub: revocationText,
  before: instant,
});
export const issuerRevocationSchema = z.strictObject({
  kind: z.literal('issuer'),
  issuer: id,
  before: instant,
});
/** Tokens whose `sid` claim names this session: made from shared signals (src/signals/), not by hand. */
export const sessionRevocationSchema = z.strictObject({
  kind: z.literal('session'),
  issuer: id,
  sid: revocationText,
  exp: revocationExp,
});
export const revocationSpecSchema = z.discriminatedUnion('kind', [
  keyRevocationSchema,
  tokenRevocationSchema,
  subjectRevocationSchema,
  issuerRevocationSchema,
  sessionRevocationSchema,
]);
/** Why something was revoked, wherever a revocation is asked for. */
export const revocationReason = revocationText;

const listedByKind = { kind: true } as const;
const listedReason = { reason: revocationReason.optional() };
const revocationsSchema = z.strictObject({
  keys: z.array(keyRevocationSchema.omit(listedByKind).extend(listedReason)).default([]),
  tokens: z.array(tokenRevocationSchema.omit(listedByKind).extend(listedReason)).default([]),
  subjects: z.array(subjectRevocationSchema.omit(listedByKind).extend(listedReason)).default([]),
  issuers: z.array(issuerRevocationSchema.omit(listedByKind).extend(listedReason)).default([]),
});

const storeSchema = z.strictObject({
  kind: z.enum(['memory', 'redis']).default('memory'),
  url: z.string().optional(),
  prefix: z.string().default('provgate:'),
  onUnavailable: z.enum(['serve-stale', 'fail-closed']).default('serve-stale'),
  maxStaleSeconds: z.number().positive().default(60),
  resyncSeconds: z.number().positive().default(5),
  /** Bound on one small read (the version check; a lookup on the request path); past it Redis is away. */
  lookupTimeoutMs: z.number().int().min(10).max(60_000).default(250),
  /** Bound on a write, a batch or a read of a whole family; past it the write is refused (503). */
  writeTimeoutMs: z.number().int().min(10).max(60_000).default(2000),
  /** Passed through to ioredis: Sentinel (`sentinels`, `name`) or Cluster (`cluster: [...]`). */
  redisOptions: z.record(z.string(), z.unknown()).optional(),
});

// protection: who the client is, which networks are refused, rate limits and anomaly rules.
// An omitted rule is off. `mode: monitor` logs what the rule would do (event "anomaly") and
// refuses nothing; `enforce` refuses. Deny lists and rate limits default to enforce (they are
// the operator's explicit policy), anomaly rules to monitor (watch a heuristic before it blocks).
const protectionMode = z.enum(['monitor', 'enforce']);
const network = z.union([z.ipv4(), z.ipv6(), z.cidrv4(), z.cidrv6()], {
  error: 'must be an IP address or a CIDR such as 203.0.113.0/24',
});
const durationSeconds = z
  .number()
  .int()
  .min(1)
  .max(30 * 86_400);

const protectionSchema = z.strictObject({
  /** Peers whose X-Forwarded-For is believed; default none: the socket address is the client. */
  trustedProxies: z.array(network).default([]),
  /** Refused before any token work with 403 blocked_network. */
  denyNetworks: z
    .strictObject({
      cidrs: z.array(network).default([]),
      /** One address or CIDR a line, `#` comments; relative to the config file; reloaded on change. */
      files: z.array(z.string().min(1)).default([]),
      mode: protectionMode.default('enforce'),
      /** Files are also stat()ed this often, in case a change notification is missed. */
      pollSeconds: z.number().positive().max(3600).default(5),
    })
    .optional(),
  rateLimits: z
    .array(
      z.strictObject({
        name: id,
        key: z.enum(['subject', 'token', 'ip', 'route']),
        /** Route names; default every route. */
        routes: z.array(id).min(1).optional(),
        limit: z.number().int().min(1),
        windowSeconds: durationSeconds,
        mode: protectionMode.default('enforce'),
      }),
    )
    .default([]),
  anomalies: z
    .strictObject({
      tokenReplay: z
        .strictObject({
          maxAddresses: z.number().int().min(1).max(100).default(5),
          windowSeconds: durationSeconds.default(600),
          mode: protectionMode.default('monitor'),
        })
        .optional(),
      failureBurst: z
        .strictObject({
          maxFailures: z.number().int().min(1).default(20),
          windowSeconds: durationSeconds.default(60),
          blockSeconds: durationSeconds.default(900),
          mode: protectionMode.default('monitor'),
        })
        .optional(),
      criticalEvent: z
        .strictObject({
          blockSeconds: durationSeconds.default(3600),
          mode: protectionMode.default('monitor'),
        })
        .optional(),
      volumeSpike: z
        .strictObject({
          factor: z.number().gt(1).default(10),
          floorPerMinute: z.number().int().min(1).default(60),
          halfLifeSeconds: durationSeconds.default(3600),
          /** Route names; default every route. */
          routes: z.array(id).min(1).optional(),
          /** How long an enforced spike blocks the subject's tokens. */
          blockSeconds: durationSeconds.default(900),
          mode: protectionMode.default('monitor'),
        })
        .optional(),
    })
    .prefault({}),
  /** Counters and token sightings are shared with the other instances (Redis store) this often. */
  shareIntervalMilliseconds: z.number().int().min(10).max(5000).default(100),
});

// admin: the operator listener. Who may use it: operator tokens of one issuer (admin.operators),
// the dashboard's OpenID Connect sign-in (admin.oidc), and the static break-glass admin.token.
const operatorsSchema = z.strictObject({
  /** The issuer id whose tokens name operators: any configured issuer but a `resource` one. */
  issuer: id,
  /** The operator token's `aud` must contain one of these. */
  audience: stringOrList,
  /** A token holding any one of a role's values has that role; `operator` implies `viewer`. */
  roles: z.strictObject({
    viewer: z.array(z.string().min(1)).min(1),
    operator: z.array(z.string().min(1)).min(1),
  }),
  /** Claims whose values (a space-separated string or a list) are matched against the roles. */
  roleClaims: z.array(z.string().min(1)).min(1).default(['scp', 'scope', 'roles']),
});

const oidcSchema = z.strictObject({
  /** The operators issuer's OpenID discovery document; its `issuer` must be that issuer's `iss`. */
  discovery: keyUrl,
  clientId: z.string().min(1),
  /** Also keys the dashboard's session cookies: every instance with the same secret accepts them. */
  clientSecret: z.string().min(16, 'must be at least 16 characters'),
  /** Where the identity provider sends the browser back: this listener's /dashboard/callback. */
  redirectUrl: z
    .url({ protocol: /^https?$/, message: 'must be an http(s) URL' })
    .refine((u) => new URL(u).pathname === '/dashboard/callback', 'its path must be /dashboard/callback'),
  scopes: z
    .array(z.string().min(1))
    .default(['openid', 'profile'])
    .refine((s) => s.includes('openid'), 'must include openid'),
  /** How long a dashboard session lasts after sign-in. */
  sessionSeconds: z.number().int().min(60).max(86_400).default(28_800),
});

const adminSchema = z
  .strictObject({
    host: z.string().default('127.0.0.1'),
    port: port.default(9901),
    /** Break-glass bearer secret; with `operators` set it works only with `allowStaticToken`. */
    token: z.string().min(16, 'must be at least 16 characters').optional(),
    allowStaticToken: z.boolean().default(false),
    /** Prometheus scrapes an internal port without credentials, as is common; true asks for a credential. */
    metricsRequireToken: z.boolean().default(false),
    /** Host header names this listener answers to (DNS rebinding); default its address and localhost. */
    allowedHosts: z
      .array(
        z.string().regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)$/, 'a host name or address, without port'),
      )
      .min(1)
      .optional(),
    operators: operatorsSchema.optional(),
    oidc: oidcSchema.optional(),
    /** Failed admin authentications from one address beyond this within the window block it. */
    failedAuth: z
      .strictObject({
        maxFailures: z.number().int().min(1).default(20),
        windowSeconds: durationSeconds.default(60),
        blockSeconds: durationSeconds.default(300),
      })
      .prefault({}),
  })
  .superRefine((admin, ctx) => {
    if (admin.oidc !== undefined && admin.operators === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['oidc'],
        message: 'needs admin.operators: the sign-in gives the dashboard an operator of that issuer',
      });
    }
    if (admin.allowStaticToken && admin.token === undefined) {
      ctx.addIssue({ code: 'custom', path: ['allowStaticToken'], message: 'needs admin.token' });
    }
  });

// signals: the Shared Signals receiver (SSF 1.0, CAEP, RISC). Transmitters push or are polled for
// Security Event Tokens, each verified under that transmitter's own key set only, and turned into
// revocations (src/signals/). Off when omitted.
const setHeaderValue = z.string().min(16, 'must be at least 16 characters (a secret)');
const transmitterSchema = z
  .strictObject({
    /** The SETs' `iss`, exactly; also the `issuer` a discovery document must name. */
    issuer: z.string().min(1),
    /** The transmitter's own keys: `discovery` is its /.well-known/ssf-configuration. */
    keys: keySourceSchema,
    algorithms: z.array(algorithm).min(1).default(['RS256', 'PS256', 'ES256']),
    /** The SET's `aud` must contain one of these. */
    audience: stringOrList,
    /** Issuer ids whose tokens this transmitter's events govern. */
    subjects: z.array(id).min(1),
    delivery: z.enum(['push', 'poll']).default('push'),
    /** Push: the exact Authorization header the transmitter sends (SSF 6.1.1 authorization_header). */
    authorization: setHeaderValue.optional(),
    /** Poll (RFC 8936): the transmitter's endpoint and how this receiver calls it. */
    poll: z
      .strictObject({
        url: keyUrl,
        /** Sent as the Authorization header of every poll request. */
        authorization: z.string().min(1).optional(),
        maxEvents: z.number().int().min(1).max(1000).default(100),
        /** Pause between two polls that found nothing. */
        intervalSeconds: z.number().min(0.05).max(3600).default(5),
        timeoutSeconds: z.number().positive().max(120).default(10),
        /** Longest wait after repeated poll errors (the wait doubles from intervalSeconds). */
        maxBackoffSeconds: z.number().min(1).max(3600).default(300),
      })
      .optional(),
    /** A SET whose `iat` is older than this is refused; also how long a SET's jti is remembered. */
    maxAgeSeconds: z
      .number()
      .int()
      .min(1)
      .max(30 * 86_400)
      .default(86_400),
    /** Tolerance for an `iat` (or `event_timestamp`) ahead of this clock. */
    clockSkewSeconds: z.number().int().min(0).max(3600).default(60),
    /** Google RISC style: `subject_type` for `format`, and the subject inside the event. */
    legacySubjectType: z.boolean().default(false),
    /** Complex-subject members that must be understood (SSF 1.0 section 3.6); default the discovery document's. */
    criticalSubjectMembers: z
      .array(z.enum(['user', 'device', 'session', 'application', 'tenant', 'org_unit', 'group']))
      .optional(),
    /** While the stream is paused or disabled: keep serving, or refuse old tokens of `subjects`. */
    onStreamDown: z.enum(['serve', 'fail-closed']).default('serve'),
    /** With fail-closed: governed tokens issued longer ago than this are refused while the stream is down. */
    maxTokenAgeSeconds: z.number().int().min(1).optional(),
    /**
     * Where `signals verify` asks for a verification event (SSF 1.0 section 8.1.4); default the
     * `verification_endpoint` of the transmitter's /.well-known/ssf-configuration.
     */
    verificationEndpoint: keyUrl.optional(),
    /** The stream's `stream_id`, sent with a verification request when given. */
    streamId: z.string().min(1).optional(),
  })
  .superRefine((t, ctx) => {
    if (t.delivery === 'poll' && t.poll === undefined)
      ctx.addIssue({ code: 'custom', path: ['poll'], message: 'required when delivery is poll' });
    if (t.delivery === 'push' && t.poll !== undefined)
      ctx.addIssue({ code: 'custom', path: ['poll'], message: 'applies only to delivery poll' });
    if (t.delivery === 'poll' && t.authorization !== undefined)
      ctx.addIssue({ code: 'custom', path: ['authorization'], message: 'applies only to delivery push' });
    if (t.onStreamDown === 'fail-closed' && t.maxTokenAgeSeconds === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['maxTokenAgeSeconds'],
        message: 'required with onStreamDown fail-closed',
      });
  });

/** `HIGH`, `[HIGH, MEDIUM]` or `{ values: [...], routes: [...] }`; routes default to every route. */
const blockRuleSchema = z
  .union([
    z.string().min(1),
    z.array(z.string().min(1)).min(1),
    z.strictObject({ values: z.array(z.string().min(1)).min(1), routes: z.array(id).min(1).optional() }),
  ])
  .transform((rule) =>
    typeof rule === 'string'
      ? { values: [rule], routes: undefined }
      : Array.isArray(rule)
        ? { values: rule, routes: undefined }
        : { values: rule.values, routes: rule.routes },
  );

const signalsSchema = z.strictObject({
  /** Where transmitters push (RFC 8935), on the proxy listener: an identity provider must reach it. */
  push: z
    .strictObject({
      path: z
        .string()
        .regex(/^\/[A-Za-z0-9._~!$&'()*+,;=:@/-]*$/, 'must be an absolute path')
        .default('/ssf/events'),
    })
    .prefault({}),
  transmitters: z
    .record(id, transmitterSchema)
    .refine((m) => Object.keys(m).length > 0, 'at least one transmitter is required'),
  /** CAEP changes that block the subject's tokens: risk-level-change matches current_level, device-compliance-change current_status, assurance-level-change change_direction or current_level. */
  blockOn: z
    .strictObject({
      'risk-level-change': blockRuleSchema.optional(),
      'device-compliance-change': blockRuleSchema.optional(),
      'assurance-level-change': blockRuleSchema.optional(),
    })
    .default({}),
});

// dpop: how DPoP proofs (RFC 9449) are checked on every route that receives one.
const dpopSchema = z
  .strictObject({
    /** Proof algorithms accepted where a route does not narrow them (`routes[].dpopAlgorithms`). */
    algorithms: z.array(algorithm).min(1).default(['ES256', 'PS256', 'RS256', 'EdDSA']),
    /** A proof's `iat` may be this far in the past: also how long its `jti` is remembered. */
    maxAgeSeconds: z.number().int().min(1).max(3600).default(60),
    /** ... and this far ahead of this clock. */
    maxFutureSeconds: z.number().int().min(0).max(300).default(10),
    /** `required`: every proof carries a server nonce (`DPoP-Nonce`), an HMAC over a time slot. */
    nonce: z.enum(['off', 'required']).default('off'),
    /** Nonce HMAC keys: the first makes nonces, every one is accepted (rotate by putting a new key first). */
    nonceKeys: z.array(z.string().min(32, 'must be at least 32 characters (a secret)')).default([]),
    /** A nonce is for one slot of this length; the previous and next slots' nonces are accepted too. */
    nonceSlotSeconds: z.number().int().min(5).max(3600).default(60),
    /** Proof ids this instance remembers at most; past it, new proofs are refused rather than forgotten early. */
    replayCacheEntries: z.number().int().min(1000).max(10_000_000).default(200_000),
  })
  .superRefine((dpop, ctx) => {
    if (dpop.nonce === 'required' && dpop.nonceKeys.length === 0)
      ctx.addIssue({ code: 'custom', path: ['nonceKeys'], message: 'required when nonce is required' });
  });

/** The public origin clients put in a DPoP proof's `htu`: scheme, host and port only. */
// lineage: what a minting route's answers must respect, and how much of an answer is read.
const lineageSchema = z.strictObject({
  /**
   * How many minted generations a token may be from its identity-provider root: 1 (the default)
   * means a minted token is never a parent. More needs a minting route that names a resource
   * issuer in `issuers`, a chain the configuration spells out.
   */
  maxDepth: z.number().int().min(1).max(5).default(1),
  /** Token answers larger than this are not read (see README: what happens to them). */
  maxResponseBytes: z
    .number()
    .int()
    .min(1024)
    .max(1024 * 1024)
    .default(64 * 1024),
  /** A minted token's scopes must be a subset of the presented token's. */
  scopesMustNarrow: z.boolean().default(true),
});

const publicOrigin = z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }).refine((u) => {
  const url = new URL(u);
  return (
    url.pathname === '/' && url.search === '' && url.hash === '' && url.username === '' && url.password === ''
  );
}, 'must be an origin only: scheme, host and port, without path, query, fragment or user');

/** The proxy listener over TLS; with requestCert, client certificates for certificate-bound tokens. */
const listenTlsSchema = z.strictObject({
  /** PEM files, relative to the configuration file. */
  cert: z.string().min(1),
  key: z.string().min(1),
  /** Client certificates must chain to these CAs to count; without it any certificate counts (RFC 8705 §6.2: possession only). */
  clientCa: z.string().min(1).optional(),
  /** Ask every client for a certificate in the handshake (optional for the client). */
  requestCert: z.boolean().default(false),
  /** Resumed sessions carry the certificate of their full handshake; false forces a full handshake on every connection. */
  sessionResumption: z.boolean().default(true),
});

export const configSchema = z.strictObject({
  listen: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: port.default(8080),
      /**
       * More request headers than this is 431 too_many_headers, before any token work. Below
       * Node's own silent truncation (about 1,000), so a crowded request is always counted whole.
       */
      maxRequestHeaders: z.number().int().min(16).max(1000).default(100),
      /** What clients address, for DPoP `htu`; default this listener's own address. Never taken from `Host`. */
      publicOrigin: publicOrigin.optional(),
      tls: listenTlsSchema.optional(),
      /**
       * Behind a TLS-terminating proxy: the header carrying the client certificate (RFC 9440
       * `Client-Cert`, or Envoy's `x-forwarded-client-cert`), believed only from
       * `protection.trustedProxies`. Off by default (RFC 9440 §4: opt-in at both ends).
       */
      clientCertHeader: z.enum(['none', 'client-cert', 'x-forwarded-client-cert']).default('none'),
    })
    .prefault({}),
  /** Processes serving the listeners (node:cluster); `auto` is one per core. More than one needs the Redis store. */
  workers: z.union([z.number().int().min(1).max(64), z.literal('auto')]).default(1),
  admin: adminSchema.prefault({}),
  issuers: z
    .record(id, issuerSchema)
    .refine((m) => Object.keys(m).length > 0, 'at least one issuer is required'),
  routes: z.array(routeSchema).min(1),
  upstreams: upstreamsSchema.prefault({}),
  revocations: revocationsSchema.prefault({}),
  store: storeSchema.prefault({}),
  /** Off when omitted: no per-request cost at all. */
  protection: protectionSchema.optional(),
  /** Shared Signals receiver; off when omitted. */
  signals: signalsSchema.optional(),
  /** DPoP proof checks (RFC 9449). */
  dpop: dpopSchema.prefault({}),
  /** Token lineage on minting routes (routes' `mintIssuers`, issuers' `lineage`). */
  lineage: lineageSchema.prefault({}),
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
          /**
           * When a verified token enters the cache: on its second sighting (a doorkeeper remembers
           * first ones), so that a flood of tokens seen once never churns it; or at once.
           */
          admission: z.enum(['second-sighting', 'first-sighting']).default('second-sighting'),
        })
        .prefault({}),
      /** Signature checks per second spent on refused key-step tokens to tell forgery from probe. */
      forgeryChecksPerSecond: z.number().int().min(0).default(50),
    })
    .prefault({}),
  /** Security events: the in-memory ring the admin API and dashboard read, and the Redis stream. */
  events: z
    .strictObject({
      recent: z.number().int().min(10).max(100_000).default(1000),
      streamMaxLength: z.number().int().min(100).default(100_000),
      /** Approximate cap of the stream's Redis memory: entries are trimmed by weight, not only count. */
      streamMaxBytes: z
        .number()
        .int()
        .min(64 * 1024)
        .default(64 * 1024 * 1024),
    })
    .prefault({}),
  lifecycle: z
    .strictObject({
      /** After SIGTERM, /readyz answers 503 this long before the listener stops accepting. */
      readinessGraceSeconds: z.number().min(0).max(300).default(0),
      /** Event-loop delay past which requests get 503 with Retry-After; 0 turns it off. */
      maxEventLoopDelayMs: z.number().min(0).default(1000),
      overloadRetryAfterSeconds: z.number().int().min(1).max(3600).default(10),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      access: z.boolean().default(false),
    })
    .prefault({}),
  /** Hot reload: SIGHUP and POST /reload always reload; `watch` also reloads when the file changes. */
  reload: z.strictObject({ watch: z.boolean().default(true) }).prefault({}),
});

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type IssuerConfig = Config['issuers'][string];
export type KeySourceConfig = IssuerConfig['keys'];
export type RouteConfig = Config['routes'][number];
export type UpstreamsConfig = Config['upstreams'];
export type RevocationsConfig = Config['revocations'];
export type StoreConfig = Config['store'];
export type CacheAdmissionPolicy = Config['verification']['cache']['admission'];
/** What a revocation names, whoever asks for it. */
export type RevocationSpec = z.infer<typeof revocationSpecSchema>;
export type ProtectionConfig = NonNullable<Config['protection']>;
export type SignalsConfig = NonNullable<Config['signals']>;
export type TransmitterConfig = SignalsConfig['transmitters'][string];
/** `monitor` reports what a protection rule would refuse; `enforce` refuses it. */
export type ProtectionMode = z.infer<typeof protectionMode>;
export type AdminConfig = Config['admin'];
export type DpopConfig = Config['dpop'];
export type LineageConfig = Config['lineage'];
export type LineageSetting = IssuerConfig['lineage'];
export type ListenConfig = Config['listen'];
export type SenderConstraintSetting = RouteConfig['senderConstraint'];
export type IntrospectionConfig = NonNullable<RouteConfig['introspection']>;
export type OperatorsConfig = NonNullable<AdminConfig['operators']>;
export type OidcConfig = NonNullable<AdminConfig['oidc']>;
