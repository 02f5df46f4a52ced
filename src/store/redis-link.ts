import { Cluster, type ClusterNode, Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { StoreConfig } from '../config/schema.js';
import { FamilyLink } from './family-link.js';
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

/**
 * The one pair of Redis connections of a process: a command connection and a subscriber that
 * follows every family's change channel. Each store family (revocations, blocks, ...) works
 * through a FamilyLink of its own, which judges that family's availability by its own commands:
 * on Redis Cluster one family's slot can be lost while the others answer. The subscriber is
 * opened with the first subscription, so a CLI command that only reads and writes opens one.
 */
export class RedisLink {
  readonly client: RedisClient;
  private subscriberClient: RedisClient | undefined;
  private readonly channels = new Map<string, Set<(message: string) => void>>();
  private readonly families = new Set<FamilyLink>();
  private readonly contacts: Promise<void>[] = [];
  private readonly scripts = new Set<string>();
  private closed = false;
  /** Redis' clock minus ours, measured at each connection: write deadlines are in Redis time. */
  private clockOffsetMs = 0;

  constructor(
    readonly config: StoreConfig,
    readonly logger: Logger,
  ) {
    this.client = connect(config);
    this.contacts.push(contact(this.client, once(this.client, 'ready')));
    this.client.on('ready', () => {
      void this.measureClock();
      for (const family of this.families) family.markUp();
    });
    this.client.on('error', (err: Error) => this.allDown(err.message));
    this.client.on('close', () => this.allDown('connection closed'));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Whether the command connection is open; a family may still find its own slot gone. */
  get connected(): boolean {
    return this.client.status === 'ready';
  }

  /** The subscriber connection, once something subscribed (tests cut it off on purpose). */
  get subscriber(): RedisClient | undefined {
    return this.subscriberClient;
  }

  /** Now on Redis' clock (epoch ms), as far as the last measurement tells. */
  serverNow(): number {
    return Date.now() + this.clockOffsetMs;
  }

  /** A view of the link for one store family; `name` is what logs call it ('revocation store'). */
  family(name: string): FamilyLink {
    const family = new FamilyLink(this, name);
    this.families.add(family);
    return family;
  }

  /** @internal FamilyLink.close */
  forget(family: FamilyLink): void {
    this.families.delete(family);
  }

  /** Resolves once the first connection attempts have ended, reached or not (bounded). */
  settled(): Promise<void> {
    return Promise.all(this.contacts).then(() => {});
  }

  /** Resolves once connected; rejects after `timeoutMs` with the reason Redis gave. For the CLI. */
  async waitUntilReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let why = 'connecting';
    const onError = (err: Error) => {
      why = err.message;
    };
    this.client.on('error', onError);
    try {
      while (!this.connected) {
        if (Date.now() > deadline) throw new StoreUnavailableError(`redis not reachable: ${why}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    } finally {
      this.client.off('error', onError);
    }
  }

  /**
   * Registers a Lua script once for the process (ioredis defineCommand: EVAL once per
   * connection, EVALSHA after) and returns its caller. `numberOfKeys` undefined: the caller's
   * first argument says how many keys follow.
   */
  script<T>(
    name: string,
    numberOfKeys: number | undefined,
    lua: string,
  ): (...args: (string | number)[]) => Promise<T> {
    if (!this.scripts.has(name)) {
      this.client.defineCommand(name, numberOfKeys === undefined ? { lua } : { numberOfKeys, lua });
      this.scripts.add(name);
    }
    const client = this.client as unknown as Record<string, (...args: (string | number)[]) => Promise<T>>;
    return (...args) => client[name]!(...args);
  }

  /** Calls `listener` with every message on `channel`; returns the unsubscribe. */
  subscribe(channel: string, listener: (message: string) => void): () => void {
    const subscriber = this.openSubscriber();
    let listeners = this.channels.get(channel);
    if (listeners === undefined) {
      listeners = new Set();
      this.channels.set(channel, listeners);
      if (subscriber.status === 'ready') {
        this.contacts.push(contact(subscriber, subscriber.subscribe(channel)));
      }
    }
    listeners.add(listener);
    const mine = listeners;
    return () => {
      mine.delete(listener);
      if (mine.size > 0 || this.channels.get(channel) !== mine) return;
      this.channels.delete(channel);
      if (!this.closed && subscriber.status === 'ready') subscriber.unsubscribe(channel).catch(() => {});
    };
  }

  close(): void {
    this.closed = true;
    this.client.disconnect();
    this.subscriberClient?.disconnect();
  }

  private openSubscriber(): RedisClient {
    if (this.subscriberClient !== undefined) return this.subscriberClient;
    const subscriber = connect(this.config);
    this.subscriberClient = subscriber;
    subscriber.on('error', () => {});
    // A start waits for the first subscription to take hold (bounded), so that no change made
    // between its first sync and the subscription goes unseen until the next periodic check.
    let firstSubscribed: () => void = () => {};
    this.contacts.push(contact(subscriber, new Promise<void>((resolve) => (firstSubscribed = resolve))));
    subscriber.on('ready', () => {
      // ioredis subscribes again by itself; doing it here tells us when it has taken hold, so a
      // change published before that is found by resyncing now, not at the next periodic check.
      const channels = [...this.channels.keys()];
      const subscribed = channels.length === 0 ? Promise.resolve(0) : subscriber.subscribe(...channels);
      subscribed.then(firstSubscribed, firstSubscribed);
      subscribed
        .then(() => {
          for (const family of this.families) family.resubscribed();
        })
        .catch(() => {});
    });
    subscriber.on('message', (channel: string, message: string) => {
      const listeners = this.channels.get(channel);
      if (listeners !== undefined) for (const listener of listeners) listener(message);
    });
    return subscriber;
  }

  private async measureClock(): Promise<void> {
    try {
      const sent = Date.now();
      const [seconds, micros] = await this.client.time();
      const received = Date.now();
      this.clockOffsetMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) - (sent + received) / 2;
    } catch {
      // Keep the last offset (0 at first): deadlines are then in our own time.
    }
  }

  private allDown(why: string): void {
    if (this.closed) return;
    for (const family of this.families) family.markDown(why);
  }
}

function once(client: RedisClient, event: string): Promise<void> {
  return new Promise((resolve) => client.once(event, () => resolve()));
}

function contact(client: RedisClient, reached: Promise<unknown>): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => resolve();
    reached.then(done, done);
    for (const event of ['error', 'close']) client.once(event, done);
    setTimeout(done, FIRST_CONTACT_MAX_MS).unref();
  });
}
