import { Cluster, type ClusterNode, Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { StoreConfig } from '../config/schema.js';
import { StoreUnavailableError } from './store-unavailable-error.js';

export type RedisClient = Redis | Cluster;

const FIRST_CONTACT_MAX_MS = 5000;

/** One ioredis client as the store settings describe it (plain, Sentinel or Cluster). */
export function connect(config: StoreConfig): RedisClient {
  const extra = (config.redisOptions ?? {}) as RedisOptions & { cluster?: ClusterNode[] };
  const { cluster, ...rest } = extra;
  const common: RedisOptions = {
    // Commands fail fast while disconnected: a write is either stored or refused, never
    // queued and forgotten.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    // Keep trying forever, at most once a second: Redis coming back must be noticed.
    retryStrategy: (times) => Math.min(100 * times, 1000),
    ...rest,
  };
  if (cluster !== undefined) {
    return new Cluster(cluster, {
      enableOfflineQueue: false,
      redisOptions: common,
      clusterRetryStrategy: (times) => Math.min(100 * times, 1000),
    });
  }
  return config.url !== undefined ? new Redis(config.url, common) : new Redis(common);
}

export interface RedisLinkOptions {
  /** For logs: 'revocation store', 'protection store'. */
  readonly name: string;
  /** The pub/sub channel whose messages this store follows. */
  readonly channel: string;
  readonly onMessage: (message: string) => void;
}

/**
 * What the revocation and protection stores share: a command connection, a subscriber on one
 * channel, and an honest idea of whether Redis answers. A Cluster stays 'ready' while the
 * master of a slot is dead (its other masters answer), so connection events alone would report
 * a store that refuses every command as available: the outcome of each command says it too.
 */
export class RedisLink {
  readonly client: RedisClient;
  readonly subscriber: RedisClient;
  available = false;
  unavailableReason: string | undefined = 'connecting';
  private closed = false;
  private readonly reconnectListeners: (() => void)[] = [];
  private readonly firstContact: Promise<void>;

  constructor(
    config: StoreConfig,
    private readonly logger: Logger,
    private readonly options: RedisLinkOptions,
  ) {
    this.client = connect(config);
    this.subscriber = connect(config);
    const ready = new Promise((resolve) => this.client.once('ready', resolve));
    const subscribed = new Promise((resolve) => {
      this.subscriber.once('ready', () => this.subscriber.subscribe(options.channel).then(resolve, resolve));
    });
    // Start may wait for Redis, briefly: a store that is down must not hold the gateway up.
    this.firstContact = Promise.all([contact(this.client, ready), contact(this.subscriber, subscribed)]).then(
      () => {},
    );
    this.client.on('ready', () => this.markUp());
    this.client.on('error', (err: Error) => this.markDown(err.message));
    this.client.on('close', () => this.markDown('connection closed'));
    this.subscriber.on('error', () => {});
    this.subscriber.on('ready', () => {
      // A change published before this (re)subscription took hold is found by resyncing now,
      // not at the next periodic check.
      this.subscriber
        .subscribe(options.channel)
        .then(() => {
          if (this.available) for (const listener of this.reconnectListeners) listener();
        })
        .catch(() => {});
    });
    this.subscriber.on('message', (_channel: string, message: string) => options.onMessage(message));
  }

  /** Resolves once the first connection attempt has ended, reached or not (bounded). */
  settled(): Promise<void> {
    return this.firstContact;
  }

  /** Resolves once connected; rejects after `timeoutMs` with the reason Redis gave. */
  async waitUntilReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.available) {
      if (Date.now() > deadline)
        throw new StoreUnavailableError(`redis not reachable: ${this.unavailableReason}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  onReconnect(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  async run<T>(command: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreUnavailableError('store closed');
    try {
      const result = await command();
      if (!this.available && this.client.status === 'ready') this.markUp();
      return result;
    } catch (err) {
      this.markDown((err as Error).message);
      throw new StoreUnavailableError(`redis: ${(err as Error).message}`, { cause: err });
    }
  }

  close(): void {
    this.closed = true;
    this.client.disconnect();
    this.subscriber.disconnect();
  }

  private markUp(): void {
    const wasDown = !this.available;
    this.available = true;
    this.unavailableReason = undefined;
    if (wasDown) {
      this.logger.info({ event: 'store.connected', store: 'redis' }, `${this.options.name} connected`);
      for (const listener of this.reconnectListeners) listener();
    }
  }

  private markDown(why: string): void {
    if (this.closed) return;
    if (this.available) {
      this.logger.warn({ event: 'store.unavailable', store: 'redis', why }, `${this.options.name} lost`);
    }
    this.available = false;
    this.unavailableReason = why;
  }
}

function contact(client: RedisClient, reached: Promise<unknown>): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => resolve();
    reached.then(done, done);
    for (const event of ['error', 'close']) client.once(event, done);
    setTimeout(done, FIRST_CONTACT_MAX_MS).unref();
  });
}
