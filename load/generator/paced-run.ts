import { Agent, request } from 'node:http';
import type { LoadJob } from './job.js';
import { LatencyRecorder } from './latency-recorder.js';

export interface PacedResult {
  readonly requests: number;
  readonly elapsedSeconds: number;
  readonly latencies: LatencyRecorder;
  readonly statusCounts: Record<string, number>;
  readonly errors: number;
}

const TICK_MS = 1;
const DRAIN_MS = 10_000;

/**
 * Open-loop load at a steady rate, for latency at a given throughput. autocannon's own rate
 * limit lets each connection send its quota for the second back to back when the second
 * starts, so its "fixed rate" measures bursts queueing at the target, not a half-loaded one.
 * Here a request is due every 1/rate seconds; its latency counts from when it was due, so a
 * stall delays the next requests' clocks too (no coordinated omission).
 */
export function pacedRun(
  job: LoadJob,
  authorizations: readonly string[],
  startAt: number,
): Promise<PacedResult & { next: number }> {
  const url = new URL(job.url);
  const rate = job.overallRate ?? 1;
  const agent = new Agent({ keepAlive: true, maxSockets: job.connections });
  const latencies = new LatencyRecorder();
  const statusCounts: Record<string, number> = {};
  let errors = 0;
  let sent = 0;
  let done = 0;
  let next = startAt;
  const start = performance.now();
  const endAt = start + job.durationSeconds * 1000;

  const send = (dueAt: number) => {
    const headers =
      authorizations.length === 0 ? {} : { authorization: authorizations[next++ % authorizations.length]! };
    const req = request(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, agent, headers },
      (res) => {
        res.resume();
        res.on('end', () => {
          statusCounts[res.statusCode ?? 0] = (statusCounts[res.statusCode ?? 0] ?? 0) + 1;
          latencies.record(performance.now() - dueAt);
          done += 1;
        });
      },
    );
    req.on('error', () => {
      errors += 1;
      done += 1;
    });
    req.end();
  };

  return new Promise((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now();
      const due = Math.min(
        Math.floor(((Math.min(now, endAt) - start) * rate) / 1000),
        Math.ceil(job.durationSeconds * rate),
      );
      while (sent < due) send(start + (sent++ * 1000) / rate);
      if (now < endAt) return;
      clearInterval(timer);
      const drainUntil = now + DRAIN_MS;
      const wait = setInterval(() => {
        if (done < sent && performance.now() < drainUntil) return;
        clearInterval(wait);
        agent.destroy();
        resolve({
          requests: done - errors,
          elapsedSeconds: job.durationSeconds,
          latencies,
          statusCounts,
          errors: errors + (sent - done),
          next,
        });
      }, TICK_MS);
    }, TICK_MS);
  });
}
