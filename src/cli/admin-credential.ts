import { readFileSync } from 'node:fs';
import type { Config } from '../config/schema.js';
import { CliError } from './cli-error.js';

let tokenFile: string | undefined;

/** `--token-file FILE`: the operator token the CLI sends, read when a command first needs it. */
export function useTokenFile(path: string | undefined): void {
  tokenFile = path;
}

/**
 * The bearer the CLI sends to the admin API: the operator token of `--token-file`, else
 * PROVGATE_ADMIN_TOKEN, else (only where no operators are configured) admin.token from the file.
 * With operators, the static token is break-glass: it must be handed over on purpose.
 */
export function adminBearer(config: Config, env: NodeJS.ProcessEnv = process.env): string {
  if (tokenFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(tokenFile, 'utf8').trim();
    } catch (err) {
      throw new CliError(
        `--token-file: cannot read ${tokenFile} (${(err as NodeJS.ErrnoException).code ?? err})`,
      );
    }
    if (text === '') throw new CliError(`--token-file: ${tokenFile} is empty`);
    return text;
  }
  const fromEnv = env.PROVGATE_ADMIN_TOKEN?.trim();
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (config.admin.operators === undefined && config.admin.token !== undefined) return config.admin.token;
  throw new CliError(
    config.admin.operators !== undefined
      ? `the admin API wants an operator token of issuer ${config.admin.operators.issuer}: pass --token-file FILE or set PROVGATE_ADMIN_TOKEN`
      : 'admin.token is not set in the config; the admin API is off',
  );
}

/**
 * Whether a change (revoke, unrevoke, unblock) must go through the running gateway even with the
 * Redis store: with operators configured, only the gateway may say who made it (the audit trail's
 * `by`), so the CLI does not write to Redis behind its back.
 */
export function changesGoThroughGateway(config: Config): boolean {
  return config.admin.operators !== undefined;
}
