import type { RunReport } from './run-report.js';

const COLORS: ReadonlyArray<readonly [string, string]> = [
  ['provgate', '#1b7f79'],
  ['haproxy', '#d9822b'],
  ['bare', '#5b6b8c'],
  ['upstream', '#9aa3ad'],
];

function colorOf(name: string): string {
  return COLORS.find(([prefix]) => name.startsWith(prefix))?.[1] ?? '#777777';
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * Horizontal bars of requests per second, one per scenario; the darker inner bar is the part
 * answered 200, so a fast run of refusals cannot pass for a fast run of accepted requests.
 */
export function renderSvg(r: RunReport): string {
  const rows = r.scenarios.filter((s) => Number.isFinite(s.rps));
  const labelW = 170;
  const chartW = 560;
  const rowH = 26;
  const top = 46;
  const width = labelW + chartW + 230;
  const height = top + rows.length * rowH + 30;
  const max = Math.max(1, ...rows.map((s) => s.rps));
  const scale = chartW / max;
  const bars = rows.map((s, i) => {
    const y = top + i * rowH;
    const w = Math.max(1, s.rps * scale);
    const ok = Math.max(0, s.okRps * scale);
    const color = colorOf(s.name);
    const cpu = Number.isFinite(s.cpuUsPerRequest) ? ` · ${Math.round(s.cpuUsPerRequest)} µs CPU/req` : '';
    const label = `${Math.round(s.rps).toLocaleString('en-US')} req/s${cpu}${s.status.ok ? '' : ' ⚠'}`;
    return [
      `<text x="${labelW - 8}" y="${y + 17}" text-anchor="end">${escapeXml(s.name)}</text>`,
      `<rect x="${labelW}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${color}" opacity="0.35"/>`,
      `<rect x="${labelW}" y="${y + 4}" width="${ok.toFixed(1)}" height="${rowH - 8}" fill="${color}"/>`,
      `<text x="${(labelW + w + 6).toFixed(1)}" y="${y + 17}">${escapeXml(label)}</text>`,
    ].join('');
  });
  const title = `provgate load run, ${r.date} (${r.mode}): requests per second, median of ${r.method.rounds} rounds`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12" role="img">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="12" y="38" fill="#555">solid: answered 200; pale: refused (401). Targets pinned to one core.</text>`,
    ...bars,
    '</svg>',
    '',
  ].join('\n');
}
