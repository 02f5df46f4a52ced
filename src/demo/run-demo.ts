// `npm start`: dev keys (generated once, git-ignored), the bundled mail API, the gateway in
// front of it, and curl lines that show the provenance rule at work.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { decodeJwt } from 'jose';
import { loadConfigFile } from '../config/load-config.js';
import { startGateway } from '../server.js';
import { signSet, subjectFromText } from '../signals/sign-set.js';
import { generateDevKey, mintToken, readPrivateKey, writeDevKey } from './dev-keys.js';
import { jwkThumbprint } from './dpop-proof.js';
import { buildMailApi } from './mail-api.js';

const CONFIG = process.env.PROVGATE_CONFIG ?? 'config/gateway.yaml';
const UPSTREAM_PORT = Number(process.env.DEMO_UPSTREAM_PORT ?? 9090);

const DEMO_KEYS = [
  { issuer: 'enterprise', alg: 'RS256', kid: 'ent-2024' },
  { issuer: 'consumer', alg: 'RS256', kid: 'msa-2016' },
  { issuer: 'consumer', alg: 'RS256', kid: 'msa-2024' },
  { issuer: 'owa', alg: 'ES256', kid: 'owa-1' },
  // The demo identity provider's shared-signals transmitter (CAEP interop: RS256).
  { issuer: 'ssf-demo', alg: 'RS256', kid: 'ssf-demo-1' },
] as const;

async function ensureKeys(dir: string): Promise<void> {
  for (const k of DEMO_KEYS) {
    if (existsSync(join(dir, 'private', `${k.issuer}.${k.kid}.jwk.json`))) continue;
    await writeDevKey(dir, k.issuer, k.alg, k.kid);
    process.stdout.write(`generated development key ${k.kid} for ${k.issuer} in ${dir}\n`);
  }
}

async function main(): Promise<void> {
  const keyDir = join(dirname(resolve(CONFIG)), 'keys');
  await ensureKeys(keyDir);
  const privateKey = (issuer: string, kid: string) =>
    readPrivateKey(join(keyDir, 'private', `${issuer}.${kid}.jwk.json`));
  const { config } = loadConfigFile(CONFIG);
  const iss = (id: string) => config.issuers[id]!.issuer;
  const audience = 'https://mail.example.test';

  const mailApi = buildMailApi({
    owaIssuer: iss('owa'),
    owaPrivateKey: await privateKey('owa', 'owa-1'),
    audience,
  });
  await mailApi.listen({ host: '127.0.0.1', port: UPSTREAM_PORT });
  const running = await startGateway(CONFIG);

  const user = { sub: 'alice', aud: audience, tid: 'tid-contoso', scp: 'Mail.Read Mail.Send' };
  const valid = await mintToken(await privateKey('enterprise', 'ent-2024'), {
    iss: iss('enterprise'),
    ...user,
  });
  // The attacker's token: the retired consumer key, claiming the enterprise issuer.
  const forged = await mintToken(await privateKey('consumer', 'msa-2016'), {
    iss: iss('enterprise'),
    ...user,
  });
  // A token the mail API minted, fetched through the gateway as a client would.
  const minted = await fetch(`${running.proxyUrl}/api/token`, {
    method: 'POST',
    headers: { authorization: `Bearer ${valid}`, 'content-type': 'application/json' },
    body: JSON.stringify({ resource: audience }),
  });
  const owaToken = ((await minted.json()) as { access_token: string }).access_token;
  // Lineage: carol's token, and a token the mail API mints from it through the gateway's token
  // route, which records what it was minted from.
  const carol = await mintToken(await privateKey('enterprise', 'ent-2024'), {
    iss: iss('enterprise'),
    ...user,
    sub: 'carol',
  });
  const derived = await fetch(`${running.proxyUrl}/api/token`, {
    method: 'POST',
    headers: { authorization: `Bearer ${carol}`, 'content-type': 'application/json' },
    body: JSON.stringify({ resource: audience }),
  });
  const carolDerived = ((await derived.json()) as { access_token: string }).access_token;
  // The identity provider ends alice's session: the SET `provgate signals send --event
  // session-revoked --subject alice` signs, made here so that the curl line works as printed.
  const ssf = config.signals?.transmitters['ssf-demo'];
  const signal =
    ssf === undefined
      ? undefined
      : await signSet(await privateKey('ssf-demo', 'ssf-demo-1'), {
          iss: ssf.issuer,
          aud: typeof ssf.audience === 'string' ? ssf.audience : ssf.audience[0]!,
          event: 'session-revoked',
          subject: subjectFromText('alice', iss('enterprise')),
          payload: {
            event_timestamp: Math.floor(Date.now() / 1000),
            reason_admin: { en: 'session ended by the identity provider (demo)' },
          },
        });
  const pushLine =
    signal === undefined || ssf === undefined
      ? ''
      : `
6. Shared signals: the identity provider says alice's session is over (a signed CAEP session-revoked, 202); after it, line 1 gets 401 subject_revoked:
curl -si -X POST -H "Content-Type: application/secevent+jwt"${ssf.authorization === undefined ? '' : ` -H "Authorization: ${ssf.authorization}"`} --data-binary '${signal}' ${running.proxyUrl.replace('127.0.0.1', 'localhost')}${config.signals!.push.path}
   (or let the CLI sign and push one: node dist/src/cli.js signals send --config ${CONFIG} --event session-revoked --subject alice)
`;

  // DPoP: bob's token is bound to his client's key (cnf.jkt); each request needs a fresh proof
  // by that key, which the CLI makes as the shell line runs (a proof lives for dpop.maxAgeSeconds).
  const dpopKeyPath = join(keyDir, 'private', 'dpop-client.jwk.json');
  if (!existsSync(dpopKeyPath)) {
    const key = await generateDevKey('ES256', 'dpop-client');
    await writeFile(dpopKeyPath, `${JSON.stringify(key.privateJwk, null, 2)}\n`, { mode: 0o600 });
  }
  const dpopKey = await readPrivateKey(dpopKeyPath);
  const bound = await mintToken(await privateKey('enterprise', 'ent-2024'), {
    iss: iss('enterprise'),
    ...user,
    sub: 'bob',
    cnf: { jkt: await jwkThumbprint(dpopKey) },
  });
  const publicUrl = `${config.listen.publicOrigin ?? running.proxyUrl}/api/mail/messages`;
  const dpopLines = `
7. DPoP: a token bound to the client's key works only with a fresh proof by that key; the same proof again is refused (200, then 401 dpop_proof_replayed), and the token as Bearer is 401 dpop_bound_as_bearer:
T='${bound}'
P=$(node dist/src/cli.js dpop proof --key ${relative(process.cwd(), dpopKeyPath)} --method GET --url ${publicUrl} --access-token "$T")
curl -si -H "Authorization: DPoP $T" -H "DPoP: $P" ${publicUrl}
curl -si -H "Authorization: DPoP $T" -H "DPoP: $P" ${publicUrl}
curl -si -H "Authorization: Bearer $T" ${publicUrl}
`;

  const base = running.proxyUrl.replace('127.0.0.1', 'localhost');
  const curl = (token: string, path: string, method = 'GET') =>
    `curl -si ${method === 'GET' ? '' : `-X ${method} `}-H "Authorization: Bearer ${token}" ${base}${path}`;
  process.stdout.write(`
provgate demo: gateway ${running.proxyUrl}  admin ${running.adminUrl}  mail API http://127.0.0.1:${UPSTREAM_PORT}

1. A valid enterprise token reads mail (200):
${curl(valid, '/api/mail/messages')}

2. Storm-0558: the retired consumer key signs a token that claims the enterprise issuer (401 key_issuer_mismatch, logged as FORGERY CONFIRMED):
${curl(forged, '/api/mail/messages')}

3. A token minted by the mail API, replayed to its own token endpoint (401 resource_minted_token):
${curl(owaToken, '/api/token', 'POST')}

4. Lineage: the mail API mints a token for carol from her token, through the gateway's token route (200, recorded); the derived token reads mail (200):
${curl(carol, '/api/token', 'POST')}
${curl(carolDerived, '/api/mail/messages')}

5. Revoke the token it was derived from (carol's subject); the derived token dies with it (401 parent_revoked, the event names the ancestor):
node dist/src/cli.js revoke subject --config ${CONFIG} --issuer enterprise --sub carol --before ${new Date().toISOString()} --reason "demo: parent revoked"
${curl(carolDerived, '/api/mail/messages')}
   (its lineage: node dist/src/cli.js lineage show --config ${CONFIG} --issuer owa --jti ${String(decodeJwt(carolDerived).jti)})
${pushLine}${dpopLines}
Health: curl -s ${running.adminUrl}/readyz
Stop with Ctrl-C.
`);

  const stop = async () => {
    await running.close(5000);
    await mailApi.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
