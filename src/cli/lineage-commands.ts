import type { Config } from '../config/schema.js';
import type { AncestorFacts, ChildFacts } from '../lineage/lineage-record.js';
import { callAdmin } from './admin-client.js';
import { CliError } from './cli-error.js';

type Out = (line: string) => void;

interface Shown {
  readonly record: { readonly child: ChildFacts; readonly route: string; readonly at: string } | null;
  readonly ancestors: (AncestorFacts & { readonly standing: string })[];
  readonly descendants: (ChildFacts & {
    readonly route: string;
    readonly at: string;
    readonly standing: string;
  })[];
}

/**
 * `provgate lineage show --issuer ID --jti JTI`: a token's ancestors (each standing, or the rule
 * by which it fell) and its live descendants, from the running gateway's admin API, which judges
 * them against the revocations and key sets in force.
 */
export async function lineageShowCommand(
  config: Config,
  values: Record<string, unknown>,
  out: Out,
): Promise<void> {
  const issuer = values.issuer;
  const jti = values.jti;
  if (typeof issuer !== 'string' || typeof jti !== 'string')
    throw new CliError('usage: provgate lineage show --issuer ID --jti JTI');
  const res = await callAdmin(
    config,
    'GET',
    `/lineage/${encodeURIComponent(issuer)}/${encodeURIComponent(jti)}`,
  );
  if (res.status === 404) {
    out(`no lineage: ${issuer} jti=${jti} was not minted through a minting route, nor minted from`);
    return;
  }
  if (res.status !== 200) throw new CliError(`gateway refused (${res.status}): ${JSON.stringify(res.body)}`);
  const shown = res.body as unknown as Shown;
  if (shown.record !== null) {
    const c = shown.record.child;
    out(
      `${c.issuer} jti=${c.jti}  ${c.kind}  sub ${c.sub}  fp ${c.fingerprint}  exp ${iso(c.exp)}  minted ${shown.record.at} on route ${shown.record.route}`,
    );
    for (const [i, a] of shown.ancestors.entries()) {
      out(
        `  ${'  '.repeat(i)}└ from ${a.issuer} jti=${a.jti ?? '-'}  sub ${a.sub}  kid ${a.kid}  fp ${a.fingerprint}  exp ${iso(a.exp)}  ${a.standing}`,
      );
    }
  } else {
    out(`${issuer} jti=${jti}  (not minted here: a root token)`);
  }
  if (shown.descendants.length === 0) {
    out('no live descendants');
    return;
  }
  out(`${shown.descendants.length} live descendant(s):`);
  for (const d of shown.descendants) {
    out(
      `  ${d.issuer} jti=${d.jti}  ${d.kind}  sub ${d.sub}  fp ${d.fingerprint}  exp ${iso(d.exp)}  minted ${d.at}  ${d.standing}`,
    );
  }
}

function iso(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString();
}
