import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { ConfigError } from './config-error.js';
import { expandEnv, formatPath } from './expand-env.js';
import { type Config, configSchema } from './schema.js';

export interface LoadedConfig {
  readonly config: Config;
  /** Absolute path of the file; relative paths inside it resolve against its folder. */
  readonly path: string;
}

/** Reads, expands and validates a YAML or JSON config; throws ConfigError with every problem. */
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
  const raw = expandEnv(doc.toJS(), env, problems);
  const parsed = configSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${formatPath(issue.path)}: ${issue.message}`);
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  return parsed.data;
}
