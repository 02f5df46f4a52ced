// How the gateway talks to upstreams: one place, tuned by measurement (see load/README.md).

/**
 * Options for @fastify/reply-from. Its request logging writes two info lines per proxied
 * request ('fetching from remote server', 'response received'): at the default log level
 * that is two JSON writes on every request, the largest single cost found in the profile.
 * The gateway logs refusals and upstream errors itself.
 */
export const REPLY_FROM_OPTIONS = {
  disableRequestLogging: true,
} as const;

/**
 * undici Agent options for the upstream connections (keep-alive pool per origin).
 * reply-from turns certificate checking off unless told otherwise; the gateway forwards bearer
 * tokens and identity headers, so an https upstream must prove who it is (fail closed).
 */
export const UPSTREAM_AGENT_OPTIONS = {
  connections: 128,
  pipelining: 1,
  keepAliveTimeout: 60_000,
  keepAliveMaxTimeout: 600_000,
  // undici spreads `connect` over reply-from's `tls: { rejectUnauthorized: false }`, so this wins.
  connect: { rejectUnauthorized: true },
};
