import { createHash } from 'node:crypto';
import { DASHBOARD_JS } from './dashboard-script.js';
import { DASHBOARD_CSS } from './dashboard-style.js';

const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/**
 * Only the exact inline script and stylesheet below may run: anything an attacker manages to
 * put into an event (a kid, a path) cannot become code, and the page talks to its own origin only.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  `script-src ${hash(DASHBOARD_JS)}`,
  `style-src ${hash(DASHBOARD_CSS)}`,
  "connect-src 'self'",
  "img-src 'self' data:",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

export const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': DASHBOARD_CSP,
  'cache-control': 'no-store',
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
} as const;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function shell(title: string, body: string, head = ''): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,">
${head}<style>${DASHBOARD_CSS}</style>
</head>
<body>
${body}
</body>
</html>
`;
}

export interface LoginOptions {
  /** The operators issuer's id, when the dashboard signs in through OpenID Connect. */
  readonly oidcIssuer?: string | undefined;
  /** Whether the static admin token is accepted, and whether as break-glass. */
  readonly staticToken?: 'accepted' | 'break-glass' | undefined;
  readonly error?: string | undefined;
}

export function loginPage(options: LoginOptions): string {
  const { oidcIssuer, staticToken, error } = options;
  const oidc =
    oidcIssuer === undefined
      ? ''
      : `<a class="button" id="oidc-login" href="/dashboard/login/oidc">Sign in with ${escapeHtml(oidcIssuer)}</a>
<p class="muted">Your identity provider decides who you are; your role (viewer or operator) comes from your token.</p>`;
  const form =
    staticToken === undefined
      ? ''
      : `<form method="post" action="/dashboard/login">
<label for="token">${staticToken === 'break-glass' ? 'Break-glass admin token' : 'Admin token'}</label>
<input id="token" name="token" type="password" autocomplete="current-password" required${oidcIssuer === undefined ? ' autofocus' : ''}>
<button type="submit">Sign in${staticToken === 'break-glass' ? ' with the admin token' : ''}</button>
</form>
<p class="muted">${
          staticToken === 'break-glass'
            ? 'For emergencies only: every use of the admin token is a security event.'
            : 'The token is admin.token from the gateway configuration. It is exchanged for a session cookie valid for 8 hours.'
        }</p>`;
  const none =
    oidc === '' && form === ''
      ? '<p class="muted">Nothing can sign in to the dashboard: set admin.oidc (or admin.token).</p>'
      : '';
  return shell(
    'provgate: sign in',
    `<main class="login"><div class="card">
<h2>provgate admin</h2>
${error === undefined ? '' : `<div class="error" role="alert">${escapeHtml(error)}</div>`}
${oidc}${form}${none}
</div></main>`,
  );
}

/** After the sign-in: a same-site navigation to the dashboard, so the SameSite=Strict cookie goes along. */
export function signedInPage(): string {
  return shell(
    'provgate: signed in',
    '<main class="login"><div class="card"><p>Signed in. <a href="/dashboard">Open the dashboard</a>.</p></div></main>',
    '<meta http-equiv="refresh" content="0;url=/dashboard">\n',
  );
}

export interface SignedIn {
  readonly by: string;
  readonly name: string | undefined;
  readonly role: 'viewer' | 'operator';
}

export function dashboardPage(csrf: string, instance: string, who: SignedIn): string {
  return shell(
    'provgate dashboard',
    `<header class="top">
<h1>provgate</h1><span class="sub">${escapeHtml(instance)}</span>
<span id="status"></span>
<span class="spacer"></span>
<span class="sub" id="updated">loading</span>
<span class="who" id="who" title="${escapeHtml(who.by)}">${escapeHtml(who.name ?? who.by)} <span class="badge b-neutral" id="role">${who.role}</span></span>
<button type="button" id="logout">Sign out</button>
</header>
<main>
<div id="kpis"></div>
<div class="grid two section">
<div class="card"><h2>Requests per second<span class="legend"><span class="l-req">&#9632; proxy listener</span></span></h2><div id="chart-requests"></div></div>
<div class="card"><h2>Refusals per second<span class="legend"><span class="l-all">&#9632; all</span><span class="l-high">&#9632; high</span><span class="l-crit">&#9632; critical</span></span></h2><div id="chart-refusals"></div></div>
</div>
<div class="card section"><h2>Issuers and keys</h2><div id="issuers"></div></div>
<div class="grid two section">
<div class="card"><h2>Revocations <span class="count" id="revocation-count"></span></h2><div class="scroll" id="revocations"></div></div>
<div class="card"><h2>Active blocks</h2><div class="scroll" id="blocks"></div></div>
</div>
<div class="card section"><h2>Shared signals</h2><div class="scroll" id="signals"></div></div>
<div class="card section"><h2>Security events <span class="count" id="event-count"></span>
<span class="filters"><label>severity <select id="f-severity"><option value="">all</option><option value="high">high and critical</option><option value="critical">critical</option></select></label>
<label>reason <select id="f-reason"><option value="">all reasons</option></select></label></span></h2>
<div class="scroll" id="events"></div></div>
</main>
<div id="toast" class="toast" role="status"></div>
<script>${DASHBOARD_JS}</script>`,
    `<meta name="provgate-csrf" content="${escapeHtml(csrf)}">\n<meta name="provgate-role" content="${who.role}">\n`,
  );
}
