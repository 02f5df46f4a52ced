import type { Config } from '../config/schema.js';
import { createLogger } from '../observability/logger.js';
import type { BlockRecord } from '../protection/block-record.js';
import { RedisProtectionStore } from '../protection/redis-protection-store.js';
import { callAdmin } from './admin-client.js';
import { changesGoThroughGateway } from './admin-credential.js';
import { CliError } from './cli-error.js';
import { withRedisStore } from './with-redis-store.js';

type Out = (line: string) => void;

/**
 * `provgate blocks list` and `provgate unblock <id>`. With the Redis store the CLI talks to Redis
 * itself (every gateway hears the change by pub/sub); with the memory store the blocks exist only
 * inside the running gateway, so the CLI goes through its admin API.
 */
export async function listBlocksCommand(config: Config, out: Out): Promise<void> {
  let blocks: BlockRecord[];
  if (config.store.kind === 'redis') {
    blocks = await withRedis(config, (store) => store.list(Date.now()));
  } else {
    const res = await callAdmin(config, 'GET', '/blocks');
    if (res.status !== 200)
      throw new CliError(`gateway refused (${res.status}): ${JSON.stringify(res.body)}`);
    blocks = (res.body.blocks as BlockRecord[] | undefined) ?? [];
  }
  if (blocks.length === 0) out('no active blocks');
  for (const b of blocks.sort((x, y) => x.at.localeCompare(y.at))) out(describeBlock(b));
}

export async function unblockCommand(config: Config, id: string | undefined, out: Out): Promise<void> {
  if (id === undefined) throw new CliError('usage: provgate unblock <id> --config FILE');
  if (config.store.kind === 'redis' && !changesGoThroughGateway(config)) {
    const removed = await withRedis(config, (store) => store.remove(id));
    if (removed === undefined) throw new CliError(`no active block with id ${id}`);
    out(`lifted: ${describeBlock(removed)}`);
    return;
  }
  const res = await callAdmin(config, 'DELETE', `/blocks/${encodeURIComponent(id)}`);
  if (res.status !== 200) {
    throw new CliError(
      `gateway refused (${res.status}): ${String(res.body.message ?? JSON.stringify(res.body))}`,
    );
  }
  out(`lifted: ${describeBlock(res.body.removed as BlockRecord)}`);
}

export function describeBlock(b: BlockRecord): string {
  const until = new Date(b.expiresAt).toISOString();
  return `${b.id}  ${b.target} ${b.value}  ${b.rule} (${b.reason})  since ${b.at} until ${until}  by ${b.by}`;
}

function withRedis<T>(config: Config, work: (store: RedisProtectionStore) => Promise<T>): Promise<T> {
  return withRedisStore(
    'block store',
    config.store,
    (link) => new RedisProtectionStore(link, { prefix: config.store.prefix, logger: createLogger('silent') }),
    work,
  );
}
