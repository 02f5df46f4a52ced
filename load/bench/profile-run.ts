import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { dirname } from 'node:path';
import { type ProfileSummary, summarizeProfile } from '../profile/profile-summary.js';

const SECONDS = 4;

/**
 * A CPU profile of `run` called over and over for a few seconds, in this process (the V8
 * sampling profiler, a sample every 100 µs), written to `file` and summarised by self time.
 */
export async function profileRun(
  run: () => void,
  file: string,
): Promise<{ seconds: number; file: string; summary: ProfileSummary }> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  const until = Date.now() + SECONDS * 1000;
  while (Date.now() < until) run();
  const { profile } = await session.post('Profiler.stop');
  session.disconnect();
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(profile));
  return { seconds: SECONDS, file, summary: summarizeProfile(profile as never, 15, 0) };
}
