import { ConfigError } from '../config/config-error.js';
import { allKeySetsLoaded, describeKeySets } from '../keys/key-set-status.js';
import { compileConfigFile } from '../runtime/compile-config.js';
import { compileSignals } from '../signals/compile-signals.js';
import { CliError } from './cli-error.js';

/** Prints what the gateway would run with; throws ConfigError (every problem) when it would not start. */
export async function checkConfigCommand(configPath: string, out: (line: string) => void): Promise<void> {
  // Every problem in one run: the schema's and those of loading key files, key sets and lists.
  const compiled = await compileConfigFile(configPath);
  const { config, path } = compiled;
  out(`config ${path}: ok`);
  out('issuers:');
  for (const issuer of compiled.registry.byId.values()) {
    out(`  ${issuer.id}  ${issuer.iss}  role=${issuer.role}  algorithms=${[...issuer.algorithms].join(',')}`);
    for (const key of issuer.keys.all) {
      const from = key.notBefore === undefined ? '-' : new Date(key.notBefore).toISOString();
      const to = key.notAfter === undefined ? '-' : new Date(key.notAfter).toISOString();
      const revoked = config.revocations.keys.some((r) => r.issuer === issuer.id && r.kid === key.kid)
        ? '  REVOKED'
        : '';
      out(
        `    key ${key.kid}  ${key.kty}${key.crv ? ` ${key.crv}` : ''}  valid ${from} .. ${to}  thumbprint ${key.thumbprint}${revoked}`,
      );
    }
  }
  out('routes:');
  for (const route of compiled.routes) {
    const flags = [route.mintsTokens ? 'mintsTokens' : '', route.allowDelegation ? 'allowDelegation' : '']
      .filter(Boolean)
      .join(' ');
    out(
      `  ${route.name}  ${route.prefix} -> ${route.upstream}  issuers=${[...route.issuers].join(',')}  scopes=${route.scopes.join(',') || '-'}${flags ? `  ${flags}` : ''}`,
    );
  }
  for (const line of describeKeySets(compiled.keySets)) out(line);
  const signalProblems: string[] = [];
  const signals = await compileSignals(config, path, compiled.registry, signalProblems);
  if (signalProblems.length > 0) throw new ConfigError(signalProblems);
  if (signals !== undefined) {
    out(`signals: push path ${signals.pushPath}`);
    for (const t of signals.byName.values())
      out(`  ${t.name}  ${t.iss}  delivery=${t.delivery}  governs=${t.governs.join(',')}`);
    for (const line of describeKeySets(signals.keySets).slice(1))
      out(`  transmitter key set: ${line.trim()}`);
    signals.keySets.stop();
  }
  for (const warning of compiled.warnings) out(`warning: ${warning}`);
  if (!allKeySetsLoaded(compiled.keySets)) {
    // The file is valid, but the gateway would start not ready: say so in the exit code too.
    throw new CliError('a key set could not be loaded (see above): the gateway would start not ready');
  }
}
