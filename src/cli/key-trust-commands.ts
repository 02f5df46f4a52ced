import type { Config } from '../config/schema.js';
import { compileConfigFile } from '../runtime/compile-config.js';
import { callAdmin } from './admin-client.js';
import { CliError } from './cli-error.js';

type Out = (line: string) => void;

interface ListedKey {
  kid: string;
  thumbprint: string;
  alg?: string;
  state: string;
  trust: string;
  decision?: { state: string; by: string; at: string; note?: string };
}
interface ListedIssuer {
  id: string;
  newKeys: string;
  quarantineSeconds?: number;
  pinned?: string[];
  keys: ListedKey[];
}

/**
 * `provgate keys trust|distrust --issuer ID --kid KID [--thumbprint T] [--reason NOTE]`: always
 * through the running gateway's admin API, so that the audit trail says which operator decided
 * (the operator token's `sub`), and the decision is answered only once the store has it.
 */
export async function keyDecisionCommand(
  config: Config,
  action: 'trust' | 'distrust',
  values: Record<string, unknown>,
  out: Out,
): Promise<void> {
  const { issuer, kid, thumbprint, reason } = values;
  if (typeof issuer !== 'string' || typeof kid !== 'string') {
    throw new CliError(
      `usage: provgate keys ${action} --issuer ID --kid KID [--thumbprint T] [--reason TEXT]`,
    );
  }
  const body = {
    ...(typeof thumbprint === 'string' ? { thumbprint } : {}),
    ...(typeof reason === 'string' ? { note: reason } : {}),
  };
  const path = `/keys/${encodeURIComponent(issuer)}/${encodeURIComponent(kid)}/${action}`;
  const res = await callAdmin(config, 'POST', path, body);
  if (res.status !== 200 && res.status !== 201) {
    const why = res.body.message ?? res.body.problems ?? JSON.stringify(res.body);
    throw new CliError(
      `gateway refused (${res.status}): ${Array.isArray(why) ? why.join('; ') : String(why)}`,
    );
  }
  const record = res.body.record as { state: string; thumbprint: string; by: string };
  out(`key ${kid} of ${issuer} (thumbprint ${record.thumbprint}): ${record.state} by ${record.by}`);
  if (typeof res.body.warning === 'string') out(`warning: ${res.body.warning}`);
}

/** `provgate keys list`: every issuer's keys as the running gateway trusts them. */
export async function listKeysCommand(config: Config, out: Out): Promise<void> {
  const res = await callAdmin(config, 'GET', '/keys');
  if (res.status !== 200) throw new CliError(`gateway refused (${res.status}): ${JSON.stringify(res.body)}`);
  for (const issuer of res.body.issuers as ListedIssuer[]) {
    const policy = [
      `newKeys=${issuer.newKeys}`,
      issuer.quarantineSeconds === undefined ? '' : `quarantineSeconds=${issuer.quarantineSeconds}`,
      issuer.pinned === undefined ? '' : `pinned=${issuer.pinned.length}`,
    ].filter(Boolean);
    out(`${issuer.id}  ${policy.join('  ')}`);
    if (issuer.keys.length === 0) out('  no keys');
    for (const key of issuer.keys) {
      const decided =
        key.decision === undefined
          ? ''
          : `  (${key.decision.state} by ${key.decision.by} at ${key.decision.at}${key.decision.note ? `: ${key.decision.note}` : ''})`;
      out(`  ${key.kid}  ${key.thumbprint}  ${key.alg ?? '-'}  ${key.trust}  ${key.state}${decided}`);
    }
  }
}

/**
 * `provgate keys thumbprints --config F`: the RFC 7638 thumbprint of every key each issuer's set
 * serves now (remote sets fetched), as the `keys.pin` lines to paste. Needs no running gateway.
 */
export async function thumbprintsCommand(configPath: string, out: Out): Promise<void> {
  const compiled = await compileConfigFile(configPath);
  for (const issuer of compiled.registry.byId.values()) {
    out(`# ${issuer.id} (${issuer.iss}): ${issuer.keys.all.length} key(s)`);
    out(`issuers.${issuer.id}.keys.pin:`);
    for (const key of issuer.keys.all) {
      out(
        `  - ${key.thumbprint}   # kid ${key.kid}, ${key.kty}${key.crv ? ` ${key.crv}` : ''}${key.alg ? `, ${key.alg}` : ''}`,
      );
    }
  }
  compiled.keySets.stop();
}
