import type { CompiledRoute } from '../config/compile-routes.js';
import type { ProtectionConfig } from '../config/schema.js';
import { AuthFailure } from '../verify/auth-failure.js';
import { tokenDetail } from '../verify/token-detail.js';
import type { VerifiedToken } from '../verify/verify-token.js';
import type { AnomalyActions } from './anomaly-actions.js';
import { RecentMap } from './recent-map.js';
import { subjectKey } from './subject-key.js';

/** The schema's rule, with its route names as a Set (undefined is every route). */
export type VolumeSpikeSpec = Readonly<
  Omit<NonNullable<ProtectionConfig['anomalies']['volumeSpike']>, 'routes'> & {
    routes: ReadonlySet<string> | undefined;
  }
>;

const MINUTE_MS = 60_000;
const MAX_KEYS = 100_000;

/** One subject on one route: this minute's count and the exponentially weighted per-minute mean. */
class Volume {
  count = 0;
  baseline = 0;
  flaggedMinute = -1;

  constructor(public minute: number) {}
}

/**
 * `volume_spike`: a subject reading mail far faster than it usually does. The baseline is the
 * subject's own per-minute request count, averaged with the configured half-life; the current
 * minute is compared with `factor` × max(baseline, floorPerMinute), so a new subject (baseline
 * zero) needs factor × floor requests in a minute before it is flagged. Evaluated per instance:
 * an even spread across instances divides the count and the baseline alike, so the ratio holds.
 */
export class VolumeSpike {
  /** Per route name, per subject key: no key is built per request. */
  private readonly volumes = new Map<string, RecentMap<string, Volume>>();
  private readonly decayPerMinute: number;

  constructor(
    private readonly spec: VolumeSpikeSpec,
    private readonly actions: AnomalyActions,
  ) {
    this.decayPerMinute = 2 ** (-60 / spec.halfLifeSeconds);
  }

  applies(route: CompiledRoute): boolean {
    return this.spec.routes === undefined || this.spec.routes.has(route.name);
  }

  /** Counts the request; throws subject_blocked (enforce) when the subject is far above its baseline. */
  observe(token: VerifiedToken, route: CompiledRoute, address: string, now: number): void {
    let subjects = this.volumes.get(route.name);
    if (subjects === undefined) {
      subjects = new RecentMap(MAX_KEYS);
      this.volumes.set(route.name, subjects);
    }
    const key = subjectKey(token);
    const minute = Math.floor(now / MINUTE_MS);
    let volume = subjects.get(key);
    if (volume === undefined) {
      volume = new Volume(minute);
      subjects.set(key, volume);
    } else if (volume.minute !== minute) {
      this.roll(volume, minute);
    }
    volume.count += 1;
    const threshold = this.spec.factor * Math.max(volume.baseline, this.spec.floorPerMinute);
    if (volume.count <= threshold || volume.flaggedMinute === minute) return;
    volume.flaggedMinute = minute;
    const sub = token.claims.sub ?? '';
    const block = this.actions.act(
      {
        rule: 'volume_spike',
        mode: this.spec.mode,
        subject: sub,
        issuer: token.issuer.id,
        tokenFingerprint: token.fingerprint,
        route: route.name,
        addresses: [address],
        counts: {
          requestsThisMinute: volume.count,
          baselinePerMinute: Math.round(volume.baseline * 100) / 100,
          threshold,
        },
      },
      {
        target: 'subject',
        value: key,
        reason: 'subject_blocked',
        expiresAt: now + this.spec.blockSeconds * 1000,
        now,
      },
    );
    if (block !== undefined)
      throw new AuthFailure('subject_blocked', tokenDetail(token, `volume_spike: block ${block.id}`));
  }

  /** Folds the finished minute into the baseline, and every idle minute since as a zero. */
  private roll(volume: Volume, minute: number): void {
    const d = this.decayPerMinute;
    volume.baseline = volume.baseline * d + volume.count * (1 - d);
    const idle = minute - volume.minute - 1;
    if (idle > 0) volume.baseline *= d ** idle;
    volume.minute = minute;
    volume.count = 0;
  }
}
