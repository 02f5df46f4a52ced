/** The parts of a V8 .cpuprofile (node --cpu-prof) that self time needs. */
interface CpuProfile {
  readonly nodes: ReadonlyArray<{
    readonly id: number;
    readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  }>;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileRow {
  readonly functionName: string;
  readonly location: string;
  readonly area: string;
  readonly selfMs: number;
  /** Share of the process's busy (non-idle) time. */
  readonly selfPct: number;
}

export interface ProfileSummary {
  readonly busyMs: number;
  readonly idleMs: number;
  readonly top: readonly ProfileRow[];
  /** Self time grouped by where the code lives: provgate, node core, each package. */
  readonly areas: ReadonlyArray<{ readonly area: string; readonly selfPct: number }>;
}

function where(url: string, line: number): { location: string; area: string } {
  if (url === '') return { location: '', area: 'V8/native' };
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(url);
  if (pkg !== null) return { location: `${pkg[1]}/${pkg[2]}:${line + 1}`, area: pkg[1]! };
  if (url.startsWith('node:')) return { location: `${url}:${line + 1}`, area: 'node core' };
  const own = /\/((?:dist\/)?src\/.*)$/.exec(url);
  if (own !== null) return { location: `${own[1]}:${line + 1}`, area: 'provgate' };
  return { location: `${url}:${line + 1}`, area: 'other' };
}

/**
 * Top functions by self time: where the CPU actually went, not who called whom. Samples in the
 * first `skipMs` (start-up, module loading, warm-up) are left out.
 */
export function summarizeProfile(profile: CpuProfile, top = 15, skipMs = 0): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const selfUs = new Map<string, number>();
  let idleUs = 0;
  let busyUs = 0;
  const frames = new Map<string, { functionName: string; location: string; area: string }>();
  let sinceStartUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const frame = byId.get(profile.samples[i]!);
    sinceStartUs += profile.timeDeltas[i] ?? 0;
    // V8 records the time since the previous sample; it belongs to the sample that follows it.
    const us = profile.timeDeltas[i + 1] ?? 0;
    if (frame === undefined || sinceStartUs < skipMs * 1000) continue;
    if (frame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    busyUs += us;
    const { location, area } = where(frame.url, frame.lineNumber);
    const key = `${frame.functionName}\u0000${location}`;
    frames.set(key, {
      functionName: frame.functionName || '(anonymous)',
      location,
      area: frame.functionName.startsWith('(') ? frame.functionName : area,
    });
    selfUs.set(key, (selfUs.get(key) ?? 0) + us);
  }
  const rows = [...selfUs.entries()]
    .map(([key, us]) => ({
      ...frames.get(key)!,
      selfMs: us / 1000,
      selfPct: busyUs === 0 ? 0 : (100 * us) / busyUs,
    }))
    .sort((a, b) => b.selfMs - a.selfMs);
  const areaUs = new Map<string, number>();
  for (const r of rows) areaUs.set(r.area, (areaUs.get(r.area) ?? 0) + r.selfMs);
  const areas = [...areaUs.entries()]
    .map(([area, ms]) => ({ area, selfPct: busyUs === 0 ? 0 : (100 * ms * 1000) / busyUs }))
    .sort((a, b) => b.selfPct - a.selfPct);
  return { busyMs: busyUs / 1000, idleMs: idleUs / 1000, top: rows.slice(0, top), areas };
}

export function profileTable(summary: ProfileSummary): string {
  const lines = [
    `busy ${summary.busyMs.toFixed(0)} ms, idle ${summary.idleMs.toFixed(0)} ms; self time by area: ${summary.areas
      .slice(0, 8)
      .map((a) => `${a.area} ${a.selfPct.toFixed(1)} %`)
      .join(', ')}`,
    '',
    '| # | self % | self ms | function | where |',
    '|---:|---:|---:|---|---|',
    ...summary.top.map(
      (r, i) =>
        `| ${i + 1} | ${r.selfPct.toFixed(1)} | ${r.selfMs.toFixed(0)} | \`${r.functionName}\` | ${r.location || r.area} |`,
    ),
  ];
  return lines.join('\n');
}
