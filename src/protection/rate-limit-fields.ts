// The RateLimit-Policy and RateLimit response fields of draft-ietf-httpapi-ratelimit-headers
// (checked against -11, 2026): Structured Field lists of items named by policy, e.g.
//   RateLimit-Policy: "mail-per-subject";q=600;w=60      (quota q per window w seconds)
//   RateLimit: "mail-per-subject";r=0;t=17               (r remaining, t seconds left)
// Section 6.2 lets a server send them only when a quota is exhausted, which keeps them off
// the hot path: provgate sends them with 429 only. Policy names are config ids
// ([A-Za-z0-9_.-]), so they need no escaping inside an sf-string.

export function rateLimitPolicyField(name: string, quota: number, windowSeconds: number): string {
  return `"${name}";q=${quota};w=${windowSeconds}`;
}

export function rateLimitField(name: string, remaining: number, secondsLeft: number): string {
  return `"${name}";r=${remaining};t=${secondsLeft}`;
}
