import type { PoolName } from '../setup/token-pools.js';

export type TargetName =
  | 'upstream'
  | 'bare-proxy'
  | 'bare-reply-from'
  | 'lean-proxy'
  | 'provgate'
  | 'provgate-cold'
  | 'provgate-nocache'
  | 'haproxy-plain'
  | 'haproxy-jwt';
export type Expectation = 'all-200' | 'all-401' | 'half-200-half-401';

export interface Scenario {
  readonly name: string;
  readonly target: TargetName;
  readonly pool: PoolName;
  readonly expect: Expectation;
  readonly description: string;
}

/** Names the ratios and targets refer to. */
export const BARE = 'bare-proxy';
export const HAPROXY_JWT = 'haproxy-jwt-10k';
export const BARE_REPLY_FROM = 'bare-reply-from';
export const LEAN = 'lean-proxy';

// Every scenario sends an Authorization header from a pool through the same rotation code, so
// the generator does the same work whatever the target.
export const SCENARIOS: readonly Scenario[] = [
  { name: 'upstream', target: 'upstream', pool: 'one', expect: 'all-200', description: 'the upstream alone' },
  {
    name: BARE,
    target: 'bare-proxy',
    pool: 'valid',
    expect: 'all-200',
    description: 'Fastify + @fastify/http-proxy, no auth',
  },
  {
    name: BARE_REPLY_FROM,
    target: 'bare-reply-from',
    pool: 'valid',
    expect: 'all-200',
    description:
      'Fastify + @fastify/reply-from on one catch-all route (the shape of src/proxy/proxy-route.ts), no auth',
  },

  {
    name: LEAN,
    target: 'lean-proxy',
    pool: 'valid',
    expect: 'all-200',
    description:
      "provgate's own proxy leg (src/proxy/, undici dispatcher) behind the same Fastify catch-all, no auth: the ceiling",
  },

  {
    name: 'provgate-1',
    target: 'provgate',
    pool: 'one',
    expect: 'all-200',
    description: 'provgate, one token repeated',
  },
  {
    name: 'provgate-10k',
    target: 'provgate',
    pool: 'valid',
    expect: 'all-200',
    description: 'provgate, 10,000 distinct valid tokens in rotation',
  },
  {
    name: 'provgate-cold',
    target: 'provgate-cold',
    pool: 'valid',
    expect: 'all-200',
    description: 'provgate, every token new (10,000 rotated through a 1,000-entry cache)',
  },
  {
    name: 'provgate-nocache',
    target: 'provgate-nocache',
    pool: 'valid',
    expect: 'all-200',
    description: 'provgate, verified-token cache off: every request verifies its signature, as HAProxy does',
  },
  {
    name: 'provgate-badsig',
    target: 'provgate',
    pool: 'badsig',
    expect: 'all-401',
    description: 'provgate, a flood of 10,000 distinct bad-signature tokens (each a full signature check)',
  },
  {
    name: 'provgate-mixed',
    target: 'provgate',
    pool: 'mixed',
    expect: 'half-200-half-401',
    description: 'provgate, 50/50 valid/invalid',
  },
  {
    name: 'provgate-invalid',
    target: 'provgate',
    pool: 'invalid',
    expect: 'all-401',
    description: 'provgate, all invalid',
  },
  {
    name: 'haproxy-plain',
    target: 'haproxy-plain',
    pool: 'valid',
    expect: 'all-200',
    description: 'HAProxy 2.6, plain proxy, 1 thread',
  },
  {
    name: HAPROXY_JWT,
    target: 'haproxy-jwt',
    pool: 'valid',
    expect: 'all-200',
    description: 'HAProxy 2.6 jwt_verify, 10,000 distinct tokens (no cache: every token cold)',
  },
  {
    name: 'haproxy-jwt-mixed',
    target: 'haproxy-jwt',
    pool: 'mixed',
    expect: 'half-200-half-401',
    description: 'HAProxy 2.6 jwt_verify, 50/50 valid/invalid',
  },
  {
    name: 'haproxy-jwt-invalid',
    target: 'haproxy-jwt',
    pool: 'invalid',
    expect: 'all-401',
    description: 'HAProxy 2.6 jwt_verify, all invalid',
  },
];

/** Fixed-rate runs for the latency target: both at half of provgate-10k's measured maximum. */
export const HALF_LOAD_SCENARIOS: readonly string[] = [LEAN, 'provgate-10k'];
