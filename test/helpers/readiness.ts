import type { TestGateway } from './gateway-fixture.js';
import { get } from './http.js';

export interface KeySetReadiness {
  readonly source: string;
  readonly loaded: boolean;
  readonly keyCount: number;
  readonly lastRefreshAt?: string;
  readonly lastSuccessAt?: string;
  readonly lastError?: string;
}

/** What `/readyz` answers; the fields the tests read are typed, the rest (`store`, ...) are not. */
export interface Readiness {
  readonly status: number;
  readonly body: Record<string, unknown> & {
    readonly status?: string;
    readonly problems?: string[];
    readonly degraded?: string[];
    readonly keys?: Record<string, KeySetReadiness>;
  };
}

/** The gateway's `/readyz` on its admin listener (a TestGateway, or a gateway process's URLs). */
export async function readiness(gw: Pick<TestGateway, 'adminUrl'>): Promise<Readiness> {
  const res = await get(`${gw.adminUrl}/readyz`);
  return { status: res.status, body: res.body as Readiness['body'] };
}
