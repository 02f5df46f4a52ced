import type { CompiledRoute } from '../config/compile-routes.js';
import { AuthFailure } from './auth-failure.js';
import { tokenDetail } from './token-detail.js';
import type { VerifiedToken } from './verify-token.js';

/** Scopes: every scope the route requires is in the token's `scp` or `scope`. 403, not 401. */
export function checkScopes(token: VerifiedToken, route: CompiledRoute): void {
  for (const scope of route.scopes) {
    if (!token.scopes.has(scope))
      throw new AuthFailure('insufficient_scope', tokenDetail(token, `missing scope ${scope}`));
  }
}
