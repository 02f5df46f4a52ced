import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { ConfigError, type PartialConfig } from './config-error.js';
import { envOnlySecretProblems } from './env-only-secrets.js';
import { expandEnv, formatPath } from './expand-env.js';
import { type Config, configSchema, type IssuerConfig } from './schema.js';

export interface LoadedConfig {
  readonly config: Config;
  /** Absolute path of the file; relative paths inside it resolve against its folder. */
  readonly path: string;
}

/**
 * Reads, expands and validates a YAML or JSON config; throws ConfigError with every problem.
 * A file that fails its schema also carries what is valid in it (`partial`), so that a caller
 * able to load key files and key sets (runtime/compile-config.ts) can report their problems in
 * the same run: one fix-and-retry round, not one per kind of problem.
 */
export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
  }
  return { config: parseConfigText(text, env, path), path };
}

export function parseConfigText(text: string, env: NodeJS.ProcessEnv, source = '(config)'): Config {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => `${source}: ${e.message.split('\n')[0]}`));
  }
  const problems: string[] = [];
  const parsedYaml: unknown = doc.toJS();
  problems.push(...envOnlySecretProblems(parsedYaml));
  const raw = expandEnv(parsedYaml, env, problems);
  const parsed = configSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${formatPath(issue.path)}: ${issue.message}`);
    throw new ConfigError(problems, partialConfig(raw, source, problems));
  }
  if (problems.length > 0) throw new ConfigError(problems, partialConfig(raw, source, problems));
  return parsed.data;
}

const issuerSchema = configSchema.shape.issuers.valueType;
const protectionSchema = configSchema.shape.protection.unwrap();
const listenTlsSchema = configSchema.shape.listen.unwrap().shape.tls.unwrap();

/**
 * The parts of an invalid configuration that are valid by themselves. An issuer with a problem
 * of its own (or an unset variable) is left out, and so is its key file: loading what is known
 * to be wrong would only add second-hand problems.
 */
function partialConfig(raw: unknown, path: string, problems: readonly string[]): PartialConfig {
  const doc = isRecord(raw) ? raw : {};
  const issuers: Record<string, IssuerConfig> = {};
  if (isRecord(doc.issuers)) {
    for (const [id, def] of Object.entries(doc.issuers)) {
      const parsed = issuerSchema.safeParse(def);
      if (parsed.success && !problems.some((p) => p.startsWith(`issuers.${id}.`))) issuers[id] = parsed.data;
    }
  }
  const protection =
    doc.protection === undefined || problems.some((p) => p.startsWith('protection.'))
      ? undefined
      : protectionSchema.safeParse(doc.protection).data;
  const routeNames = Array.isArray(doc.routes)
    ? doc.routes.flatMap((r: unknown) => (isRecord(r) && typeof r.name === 'string' ? [r.name] : []))
    : [];
  const tls = isRecord(doc.listen) ? doc.listen.tls : undefined;
  const listenTls =
    tls === undefined || problems.some((p) => p.startsWith('listen.tls.'))
      ? undefined
      : listenTlsSchema.safeParse(tls).data;
  return { path, issuers, protection, routeNames, listenTls };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
