import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { waitFor } from './poll.js';
import { freePort } from './redis-server.js';

const run = promisify(execFile);

export interface ClusterNode {
  readonly port: number;
  /** SIGKILL: the master is gone, as after a crash. */
  kill(): Promise<void>;
}

export interface TestCluster {
  readonly nodes: readonly ClusterNode[];
  /** The node serving the hash slot of `{tag}` keys. */
  ownerOf(tag: string): Promise<ClusterNode>;
  /**
   * Resolves once every live master flags the killed `node` as failed: `fail` when enough
   * masters are left to agree on it (a majority of them), else `fail?` (past
   * cluster-node-timeout, unreachable). What a sleep past the timeout hoped for, observed.
   */
  markedFailed(node: ClusterNode, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * A private Redis Cluster of `masters` masters and no replicas on free loopback ports, each in a
 * temporary directory, joined with `redis-cli --cluster create`. `cluster-require-full-coverage
 * no`: the masters left keep serving their slots when one dies (with the default `yes`, every
 * slot stops answering as soon as any slot is uncovered).
 */
export async function startRedisCluster(
  masters = 3,
  options: { fullCoverage?: boolean } = {},
): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'provgate-cluster-'));
  const children: ChildProcess[] = [];
  const nodes: ClusterNode[] = [];
  const alive = new Set<ClusterNode>();
  for (let i = 0; i < masters; i++) {
    const port = await freePort();
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${port}.conf`,
        '--cluster-node-timeout',
        '1000',
        '--cluster-require-full-coverage',
        options.fullCoverage === true ? 'yes' : 'no',
        '--appendonly',
        'no',
        '--save',
        '',
        '--daemonize',
        'no',
      ],
      { stdio: 'ignore' },
    );
    children.push(child);
    const node: ClusterNode = {
      port,
      kill: async () => {
        alive.delete(node);
        if (child.exitCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      },
    };
    nodes.push(node);
    alive.add(node);
  }
  const close = async () => {
    for (const node of nodes) await node.kill();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const node of nodes) await waitPing(node.port);
    await run('redis-cli', [
      '--cluster',
      'create',
      ...nodes.map((n) => `127.0.0.1:${n.port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    for (const node of nodes) await waitClusterOk(node.port);
  } catch (err) {
    await close();
    throw err;
  }
  return {
    nodes,
    close,
    async ownerOf(tag) {
      const client = new Redis({ port: nodes[0]!.port, host: '127.0.0.1', lazyConnect: true });
      try {
        await client.connect();
        const slot = (await client.call('CLUSTER', 'KEYSLOT', `{${tag}}`)) as number;
        const shards = (await client.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
        const owner = shards.find(([from, to]) => slot >= from && slot <= to)![2][1];
        return nodes.find((n) => n.port === owner)!;
      } finally {
        client.disconnect();
      }
    },
    async markedFailed(dead, timeoutMs = 10_000) {
      const others = nodes.filter((n) => n !== dead && alive.has(n));
      // A failure is agreed on by a majority of the masters; fewer can only suspect it.
      const failed = new Set(others.length > masters / 2 ? ['fail'] : ['fail', 'fail?']);
      const clients = others.map((n) => new Redis({ port: n.port, host: '127.0.0.1', lazyConnect: true }));
      try {
        await Promise.all(clients.map((c) => c.connect()));
        await waitFor(
          async () => {
            const views = await Promise.all(
              clients.map((c) => c.call('CLUSTER', 'NODES') as Promise<string>),
            );
            return views.every((view) => flagsOf(view, dead.port).some((flag) => failed.has(flag)));
          },
          { timeoutMs, intervalMs: 50, message: `the cluster to mark ${dead.port} failed` },
        );
      } finally {
        for (const c of clients) c.disconnect();
      }
    },
  };
}

/** The flags `CLUSTER NODES` gives the node on `port` (`master,fail`, `master,fail?`, ...). */
function flagsOf(view: string, port: number): string[] {
  const line = view.split('\n').find((l) => l.split(' ')[1]?.startsWith(`127.0.0.1:${port}@`));
  return line?.split(' ')[2]?.split(',') ?? [];
}

function waitPing(port: number): Promise<number> {
  const answers = () =>
    run('redis-cli', ['-p', String(port), 'ping']).then(
      () => true,
      () => false,
    );
  return waitFor(answers, { timeoutMs: 5000, intervalMs: 50, message: `redis-server on ${port}` });
}

function waitClusterOk(port: number): Promise<number> {
  const ok = async () =>
    (await run('redis-cli', ['-p', String(port), 'cluster', 'info'])).stdout.includes('cluster_state:ok');
  return waitFor(ok, { timeoutMs: 10_000, intervalMs: 100, message: `cluster_state:ok on ${port}` });
}
