#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { CliError } from './cli/cli-error.js';
import { ConfigError } from './config/config-error.js';
import { loadConfigFile } from './config/load-config.js';

const USAGE = `provgate: an auth gateway that checks where a token came from

usage:
  provgate start [--config FILE] [--drain-seconds N]
  provgate check-config [--config FILE]
  provgate revoke key     --issuer ID --kid KID            [--reason TEXT] [--config FILE]
  provgate revoke token   --issuer ID --jti JTI [--exp N]  [--reason TEXT] [--config FILE]
  provgate revoke subject --issuer ID --sub SUB --before RFC3339 [--reason TEXT] [--config FILE]
  provgate revoke issuer  --issuer ID --before RFC3339     [--reason TEXT] [--config FILE]
  provgate revocations list|audit [--config FILE]
  provgate unrevoke ID [--config FILE]
  provgate blocks list [--config FILE]
  provgate unblock ID [--config FILE]
  provgate events tail [--severity low|high|critical] [--since 1h|RFC3339] [--config FILE]
  provgate keys list [--config FILE]
  provgate keys trust|distrust --issuer ID --kid KID [--thumbprint T] [--reason TEXT] [--config FILE]
  provgate keys thumbprints [--config FILE]       (the RFC 7638 thumbprints to pin, keys.pin)
  provgate keys generate --issuer ID [--alg ES256] [--kid KID] [--out DIR]   (development only)
  provgate signals status [--config FILE]
  provgate signals verify --transmitter NAME [--wait SECONDS] [--config FILE]
  provgate lineage show --issuer ID --jti JTI [--config FILE]
  provgate signals send --event NAME --subject user:SUB|email:E|session:SID|jwt:JTI [--transmitter NAME]
                        [--timestamp T] [--claim name=value ...] [--key PRIVATE_JWK] [--print] [--url URL]
                                                                             (development only)
  provgate token mint --key PRIVATE_JWK --iss ISS --sub SUB [--aud AUD] [--scp "A B"] [--tid T]
                      [--ttl SECONDS] [--claim name=value ...]               (development only)
  provgate dpop proof --key PRIVATE_JWK --method GET --url URL [--access-token T] [--nonce N]
  provgate dpop jkt --key PRIVATE_JWK                      (the key's cnf.jkt; development only)

--config defaults to config/gateway.yaml. Commands that call the admin API send the operator token
of --token-file FILE, else $PROVGATE_ADMIN_TOKEN, else (without admin.operators) admin.token.`;

const OPTIONS = {
  config: { type: 'string', default: 'config/gateway.yaml' },
  'drain-seconds': { type: 'string', default: '10' },
  issuer: { type: 'string' },
  kid: { type: 'string' },
  thumbprint: { type: 'string' },
  jti: { type: 'string' },
  sub: { type: 'string' },
  before: { type: 'string' },
  exp: { type: 'string' },
  reason: { type: 'string' },
  by: { type: 'string' },
  'token-file': { type: 'string' },
  alg: { type: 'string' },
  method: { type: 'string' },
  'access-token': { type: 'string' },
  nonce: { type: 'string' },
  out: { type: 'string' },
  key: { type: 'string' },
  iss: { type: 'string' },
  aud: { type: 'string' },
  scp: { type: 'string' },
  tid: { type: 'string' },
  ttl: { type: 'string' },
  claim: { type: 'string', multiple: true },
  severity: { type: 'string' },
  since: { type: 'string' },
  event: { type: 'string' },
  subject: { type: 'string' },
  transmitter: { type: 'string' },
  timestamp: { type: 'string' },
  url: { type: 'string' },
  wait: { type: 'string' },
  print: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const out = (line: string) => process.stdout.write(`${line}\n`);
// `provgate revocations list | head` closes the pipe early: that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: OPTIONS,
    allowPositionals: true,
    strict: true,
  });
  const [command, sub] = positionals;
  const configPath = values.config;
  if (values.help || command === undefined || command === 'help') {
    out(USAGE);
    return;
  }
  const config = () => loadConfigFile(configPath).config;
  (await import('./cli/admin-credential.js')).useTokenFile(values['token-file']);
  // Each command loads only its own code: `revoke` need not load Fastify and the whole server.
  const revocations = () => import('./cli/revocation-commands.js');
  switch (command) {
    case 'start':
      return (await import('./cli/start-command.js')).startCommand(
        configPath,
        Number(values['drain-seconds']),
      );
    case 'check-config':
      return (await import('./cli/check-config-command.js')).checkConfigCommand(configPath, out);
    case 'revoke':
      if (sub === undefined) throw new CliError('usage: provgate revoke key|token|subject|issuer ...');
      return (await revocations()).revokeCommand(config(), sub, values, out);
    case 'revocations':
      if (sub === 'audit') return (await revocations()).revocationAuditCommand(config(), out);
      if (sub !== 'list') throw new CliError('usage: provgate revocations list|audit');
      return (await revocations()).listRevocationsCommand(config(), out);
    case 'unrevoke':
      return (await revocations()).unrevokeCommand(config(), sub, out);
    case 'blocks':
      if (sub !== 'list') throw new CliError('usage: provgate blocks list');
      return (await import('./cli/block-commands.js')).listBlocksCommand(config(), out);
    case 'unblock':
      return (await import('./cli/block-commands.js')).unblockCommand(config(), sub, out);
    case 'events':
      if (sub !== 'tail') throw new CliError('usage: provgate events tail [--severity high] [--since 1h]');
      {
        const events = await import('./cli/events-command.js');
        return events.eventsTailCommand(config(), events.tailOptions(values, Date.now()), out);
      }
    case 'keys': {
      if (sub === 'generate') return (await import('./cli/dev-commands.js')).keysGenerateCommand(values, out);
      const keys = await import('./cli/key-trust-commands.js');
      if (sub === 'trust' || sub === 'distrust') return keys.keyDecisionCommand(config(), sub, values, out);
      if (sub === 'list') return keys.listKeysCommand(config(), out);
      if (sub === 'thumbprints') return keys.thumbprintsCommand(configPath, out);
      throw new CliError('usage: provgate keys list | trust | distrust | thumbprints | generate ...');
    }
    case 'lineage':
      if (sub !== 'show') throw new CliError('usage: provgate lineage show --issuer ID --jti JTI');
      return (await import('./cli/lineage-commands.js')).lineageShowCommand(config(), values, out);
    case 'signals': {
      const signals = await import('./cli/signals-commands.js');
      if (sub === 'status') return signals.signalsStatusCommand(config(), out);
      if (sub === 'send') return signals.signalsSendCommand(config(), { configPath, values }, out);
      if (sub === 'verify') return signals.signalsVerifyCommand(config(), values, out);
      throw new CliError(
        'usage: provgate signals status | verify --transmitter NAME | send --event NAME --subject SUBJECT',
      );
    }
    case 'token':
      if (sub !== 'mint') throw new CliError('usage: provgate token mint --key FILE ...');
      return (await import('./cli/dev-commands.js')).tokenMintCommand(values, out);
    case 'dpop': {
      const dpop = await import('./cli/dpop-commands.js');
      if (sub === 'proof') return dpop.dpopProofCommand(values, out);
      if (sub === 'jkt') return dpop.dpopJktCommand(values, out);
      throw new CliError(
        'usage: provgate dpop proof --key FILE --method GET --url URL | dpop jkt --key FILE',
      );
    }
    default:
      throw new CliError(`unknown command ${command}\n\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    for (const problem of err.problems) process.stderr.write(`${problem}\n`);
    process.stderr.write(`configuration invalid: ${err.problems.length} problem(s)\n`);
  } else if (err instanceof CliError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`provgate: ${(err as Error).message}\n`);
  } else {
    process.stderr.write(`provgate: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
  }
  process.exitCode = (err as CliError).exitCode ?? 1;
});
