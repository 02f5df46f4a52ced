// Shared by the revocation tests: the admin API over HTTP, the CLI as a child process, and the
// config files and store sections they hand to both.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { TestGateway } from './gateway-fixture.js';
import { get } from './http.js';

/** The admin token of `referenceConfig`. */
export const ADMIN_TOKEN = 'test-admin-token-0123456789';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** One call to the admin API; `token: null` sends no Authorization header at all. */
export async function admin(
  adminUrl: string,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
  token: string | null = ADMIN_TOKEN,
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${adminUrl}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

export function revoke(gw: TestGateway, request: Record<string, unknown>): Promise<Answer> {
  return admin(gw.adminUrl, 'POST', '/revocations', request);
}

export async function listed(gw: TestGateway): Promise<Record<string, unknown>[]> {
  const res = await admin(gw.adminUrl, 'GET', '/revocations');
  if (res.status !== 200) throw new Error(`GET /revocations answered ${res.status}`);
  return res.body.revocations as Record<string, unknown>[];
}

/** What the proxy says to `token` on the mail route: `ok` for 200, else the refusal's reason. */
export async function verdict(gw: TestGateway, token: string, path = '/api/mail/messages'): Promise<string> {
  const res = await get(`${gw.url}${path}`, token);
  if (res.status === 200) return 'ok';
  return `${res.status} ${String(res.body.reason)}`;
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `provgate <args>` exactly as an operator runs it, from the source tree. */
export function runCli(args: readonly string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `provgate <command words> --name value ... --config <config>`: `provgate('revoke key', {...}, path)`. */
export function provgate(
  command: string,
  options: Record<string, string>,
  config: string,
): Promise<CliResult> {
  const args = command.split(' ');
  for (const [name, value] of Object.entries(options)) args.push(`--${name}`, value);
  return runCli([...args, '--config', config]);
}

/** Writes a config file for the CLI (relative key paths resolve against `dir`). */
export function writeConfigFile(dir: string, name: string, config: Record<string, unknown>): string {
  const path = join(dir, name);
  writeFileSync(path, stringify(config));
  return path;
}

/** The Redis `store:` section the tests use, with `extra` on top. */
export function redisStore(url: string, prefix: string, extra: Record<string, unknown> = {}) {
  return { kind: 'redis', url, prefix, ...extra };
}

/** Epoch seconds as an RFC 3339 instant. */
export function instant(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString();
}
