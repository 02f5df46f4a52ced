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

export function loginPage(error?: string): string {
  return shell(
    'provgate: sign in',
    `<main class="login"><div class="card">
<h2>provgate admin</h2>
<form method="post" action="/dashboard/login">
<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
${error === undefined ? '' : `<div class="error" role="alert">${escapeHtml(error)}</div>`}
<button type="submit">Sign in</button>
</form>
<p class="muted">The token is admin.token from the gateway configuration. It is exchanged for a session cookie valid for 8 hours.</p>
</div></main>`,
  );
}

export function dashboardPage(csrf: string, instance: string): string {
  return shell(
    'provgate dashboard',
    `<header class="top">
<h1>provgate</h1><span class="sub">${escapeHtml(instance)}</span>
<span id="status"></span>
<span class="spacer"></span>
<span class="sub" id="updated">loading</span>
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
<div class="card section"><h2>Security events <span class="count" id="event-count"></span>
<span class="filters"><label>severity <select id="f-severity"><option value="">all</option><option value="high">high and critical</option><option value="critical">critical</option></select></label>
<label>reason <select id="f-reason"><option value="">all reasons</option></select></label></span></h2>
<div class="scroll" id="events"></div></div>
</main>
<div id="toast" class="toast" role="status"></div>
<script>${DASHBOARD_JS}</script>`,
    `<meta name="provgate-csrf" content="${escapeHtml(csrf)}">\n`,
  );
}
