import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { loadConfigFile } from '../../src/config/load-config.js';
import type { RevocationMirror } from '../../src/revocation/revocation-mirror.js';
import type { compileConfig } from '../../src/runtime/compile-config.js';
import type { TokenVerifier } from '../../src/verify/verify-token.js';
import { ROOT } from '../procs/build-dist.js';

export interface GatewayModules {
  readonly from: 'dist' | 'src';
  readonly compileConfig: typeof compileConfig;
  readonly loadConfigFile: typeof loadConfigFile;
  readonly RevocationMirror: typeof RevocationMirror;
  readonly TokenVerifier: typeof TokenVerifier;
}

/** Where the gateway's modules come from: dist/ when it is there and wanted, else src/ (through tsx). */
export function modulesFrom(preferDist: boolean): 'dist' | 'src' {
  return preferDist && existsSync(`${ROOT}dist/src/verify/verify-token.js`) ? 'dist' : 'src';
}

/** One gateway module (`verify/verify-token`) from dist/ or src/, typed by its caller. */
export async function loadModule<T>(from: 'dist' | 'src', path: string): Promise<T> {
  return (await import(
    pathToFileURL(from === 'dist' ? `${ROOT}dist/src/${path}.js` : `${ROOT}src/${path}.ts`).href
  )) as T;
}

/** The verifier's modules from the compiled output when there is one (typed by the sources). */
export async function loadGatewayModules(preferDist: boolean): Promise<GatewayModules> {
  const from = modulesFrom(preferDist);
  const load = <T>(path: string) => loadModule<T>(from, path);
  const [compile, loadConfig, mirror, verify] = await Promise.all([
    load<{ compileConfig: typeof compileConfig }>('runtime/compile-config'),
    load<{ loadConfigFile: typeof loadConfigFile }>('config/load-config'),
    load<{ RevocationMirror: typeof RevocationMirror }>('revocation/revocation-mirror'),
    load<{ TokenVerifier: typeof TokenVerifier }>('verify/verify-token'),
  ]);
  return {
    from,
    compileConfig: compile.compileConfig,
    loadConfigFile: loadConfig.loadConfigFile,
    RevocationMirror: mirror.RevocationMirror,
    TokenVerifier: verify.TokenVerifier,
  };
}
