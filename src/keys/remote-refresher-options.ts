import type { IssuerConfig } from '../config/schema.js';
import type { RefresherOptions } from './key-set-refresher.js';
import { RemoteKeySource } from './remote-key-source.js';

/** The refresher settings of an issuer whose keys come from `url` or `discovery`. */
export function remoteRefresherOptions(issuerId: string, def: IssuerConfig): RefresherOptions {
  const { keys } = def;
  const kind = keys.url !== undefined ? 'url' : 'discovery';
  const location = keys.url ?? keys.discovery;
  if (location === undefined) throw new Error(`issuers.${issuerId}.keys: not a remote source`);
  return {
    issuerId,
    keys,
    source: new RemoteKeySource({
      kind,
      location,
      issuer: def.issuer,
      limits: { timeoutMs: keys.timeoutSeconds * 1000, maxBytes: keys.maxBytes },
    }),
    context: {
      issuerId,
      binding: { issuer: def.issuer, shared: keys.shared },
      windows: def.keyValidity ?? {},
      path: `issuers.${issuerId}.keys.${kind}`,
      removedKeyGraceMs: keys.removedKeyGraceSeconds * 1000,
    },
  };
}
