// How the gateway talks to upstreams: one place, tuned by measurement (see load/README.md).

/**
 * undici Pool options for each upstream origin (the load suite's bare proxies read them too, so
 * that a baseline differs from the gateway by authentication alone). `connections` comes from
 * the configuration (`upstreams.connections`).
 */
export const UPSTREAM_AGENT_OPTIONS = {
  connections: 128,
  pipelining: 1,
  keepAliveTimeout: 60_000,
  keepAliveMaxTimeout: 600_000,
  // The gateway forwards bearer tokens and identity headers: an https upstream must prove who it
  // is (undici's default too; said here so that no option spread elsewhere can turn it off).
  connect: { rejectUnauthorized: true },
};
