// The dashboard's stylesheet, inline (no build step, no CDN: the admin port may have no network).
export const DASHBOARD_CSS = `
:root {
  --bg: #f3f5f8; --card: #ffffff; --ink: #18202b; --muted: #5d6b7c; --line: #e2e7ee;
  --brand: #1f3a5f; --accent: #2f6fb2; --ok: #1e8e5a; --warn: #b7791f; --bad: #c53030; --crit: #8b1538;
  --ok-bg: #e3f4ec; --warn-bg: #fdf3e1; --bad-bg: #fde8e8; --crit-bg: #f9e1ea; --neutral-bg: #edf0f4;
}
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; background: var(--bg); color: var(--ink); }
header.top { display: flex; align-items: center; gap: 16px; padding: 12px 24px; background: var(--brand); color: #fff; }
header.top h1 { font-size: 18px; margin: 0; letter-spacing: .3px; font-weight: 650; }
header.top .sub { color: #c8d6e8; font-size: 13px; }
header.top .spacer { flex: 1; }
header.top button { background: transparent; color: #fff; border: 1px solid #6f8db3; }
main { padding: 20px 24px 40px; max-width: 1480px; margin: 0 auto; }
.grid { display: grid; gap: 16px; }
.kpis { grid-template-columns: repeat(5, minmax(0, 1fr)); }
.two { grid-template-columns: repeat(2, minmax(0, 1fr)); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; min-width: 0; }
.card h2 { font-size: 14px; margin: 0 0 10px; color: var(--brand); text-transform: uppercase; letter-spacing: .6px; display: flex; align-items: center; gap: 8px; }
.card h2 .count { color: var(--muted); font-weight: 500; text-transform: none; letter-spacing: 0; }
.card h3 { font-size: 13px; margin: 14px 0 6px; color: var(--ink); }
.kpi .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .5px; }
.kpi .value { font-size: 26px; font-weight: 650; margin-top: 2px; font-variant-numeric: tabular-nums; }
.kpi .value.bad { color: var(--bad); }
.section { margin-top: 16px; }
table { width: 100%; border-collapse: collapse; font-size: 13px; }
th { text-align: left; color: var(--muted); font-weight: 600; font-size: 12px; padding: 6px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
td { padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: middle; overflow-wrap: anywhere; }
tr:last-child td { border-bottom: 0; }
table.keys, table.events { table-layout: fixed; }
table.keys th:nth-child(1) { width: 16%; } table.keys th:nth-child(2) { width: 13%; } table.keys th:nth-child(3) { width: 9%; }
table.keys th:nth-child(4) { width: 17%; } table.keys th:nth-child(6) { width: 10%; } table.keys th:nth-child(7) { width: 8%; text-align: right; }
table.keys td:nth-child(7) { text-align: right; }
table.events th:nth-child(1) { width: 13%; } table.events th:nth-child(2) { width: 7%; } table.events th:nth-child(3) { width: 6%; }
table.events th:nth-child(4) { width: 14%; } table.events th:nth-child(5) { width: 6%; } table.events th:nth-child(6) { width: 9%; }
table.events th:nth-child(7) { width: 9%; } table.events th:nth-child(8) { width: 8%; }
table.blocks td:nth-child(2), td button { white-space: nowrap; }
table.blocks td:last-child { text-align: right; }
.mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px; }
.muted { color: var(--muted); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; white-space: nowrap; }
.b-active, .b-ready, .b-low, .b-up { background: var(--ok-bg); color: var(--ok); }
.b-inactive, .b-retiring, .b-degraded { background: var(--warn-bg); color: var(--warn); }
.b-high { background: var(--bad-bg); color: var(--bad); }
.b-revoked, .b-critical, .b-not_ready, .b-draining, .b-down, .b-quarantined { background: var(--crit-bg); color: var(--crit); }
.b-neutral { background: var(--neutral-bg); color: var(--muted); }
header.top .badge { border: 1px solid rgba(255,255,255,.25); }
button { font: inherit; font-size: 12px; padding: 4px 10px; border-radius: 5px; border: 1px solid var(--line); background: #fff; color: var(--ink); cursor: pointer; }
button.danger { color: var(--bad); border-color: #efb7b7; }
button.danger:hover { background: var(--bad-bg); }
button:disabled { opacity: .45; cursor: default; }
select { font: inherit; font-size: 13px; padding: 3px 6px; border: 1px solid var(--line); border-radius: 5px; background: #fff; }
.filters { display: flex; gap: 12px; align-items: center; margin-left: auto; font-weight: 400; text-transform: none; letter-spacing: 0; color: var(--muted); font-size: 12px; }
.issuer { border-top: 1px solid var(--line); padding-top: 10px; margin-top: 10px; }
.issuer:first-of-type { border-top: 0; margin-top: 0; padding-top: 0; }
.issuer-head { display: flex; gap: 10px; align-items: baseline; flex-wrap: wrap; }
.issuer-head strong { font-size: 14px; }
svg.chart { width: 100%; height: 120px; display: block; }
svg.timeline { width: 100%; height: 18px; display: block; }
.axis { font-size: 10px; fill: var(--muted); }
.empty { color: var(--muted); padding: 10px 0; }
.scroll { max-height: 420px; overflow: auto; }
.toast { position: fixed; right: 20px; bottom: 20px; background: var(--brand); color: #fff; padding: 10px 14px; border-radius: 6px; opacity: 0; transition: opacity .2s; }
.toast.show { opacity: 1; }
.toast.error { background: var(--bad); }
.legend { display: flex; gap: 12px; font-size: 12px; color: var(--muted); font-weight: 400; text-transform: none; letter-spacing: 0; margin-left: auto; }
.l-req { color: #2f6fb2; } .l-all { color: #b7791f; } .l-high { color: #c53030; } .l-crit { color: #8b1538; }
.login { max-width: 380px; margin: 12vh auto; }
.login form { display: grid; gap: 10px; }
.login input { font: inherit; padding: 8px 10px; border: 1px solid var(--line); border-radius: 5px; }
.login button { padding: 8px; font-size: 14px; background: var(--brand); color: #fff; border: 0; }
.login .error { color: var(--bad); }
.login a.button { display: block; text-align: center; padding: 8px; font-size: 14px; background: var(--brand); color: #fff; border-radius: 5px; text-decoration: none; }
.login form { margin-top: 14px; }
header.top .who { color: #fff; font-size: 13px; display: flex; gap: 6px; align-items: center; }
@media (max-width: 1100px) { .kpis { grid-template-columns: repeat(2, 1fr); } .two { grid-template-columns: 1fr; } }
`;
