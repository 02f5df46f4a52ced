import type { RedisLink } from './redis-link.js';
import { StoreUnavailableError } from './store-unavailable-error.js';
import { WRITE_DEADLINE } from './write-deadline.js';

/**
 * How long a command may take. `lookup`: one small read, such as the version check (and, for the
 * families to come, a lookup on the request path). `write`: a write, a batch, or a read of a
 * whole family. Past it the command is an outage like a refused connection: a hung Redis
 * (SIGSTOP, a full disk, a stalled failover) must not hang an admin call or keep readiness green.
 */
export type CommandKind = 'lookup' | 'write';

// Redis answered, but as a store that cannot serve right now: a failover, a cluster slot nobody
// serves, a dataset still loading, memory full, a script hogging it, credentials refused. Any
// other error reply (ERR, WRONGTYPE, a failing script) is a bug in the caller and surfaces as is.
// DEADLINE is ours (write-deadline.ts): a write that reached Redis only after its time-out.
const AWAY_REPLIES =
  /^(CLUSTERDOWN|TRYAGAIN|LOADING|MASTERDOWN|READONLY|BUSY|OOM|MISCONF|NOREPLICAS|NOAUTH|WRONGPASS|NOPERM|DEADLINE)\b/;

/** Whether an error from ioredis means "Redis is away" rather than "this code is wrong". */
export function isOutage(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'ReplyError') return AWAY_REPLIES.test(err.message);
  // Connection-level failures (closed, not writable, retries exhausted, no cluster node) are
  // plain Errors or ioredis' AbortError family; a TypeError and its kin are our own bugs.
  return !(
    err instanceof TypeError ||
    err instanceof RangeError ||
    err instanceof SyntaxError ||
    err instanceof ReferenceError
  );
}

/**
 * One store family's view of the process's RedisLink: its commands (each bounded by a time-out),
 * its change channel, and an honest idea of whether Redis answers it. A Cluster stays 'ready'
 * while the master of one slot is dead, so connection events alone would report a family that
 * refuses every command as available: the outcome of each of its commands says it too.
 */
export class FamilyLink {
  available: boolean;
  unavailableReason: string | undefined;
  private readonly reconnectListeners = new Set<() => void>();
  private readonly unsubscribes: (() => void)[] = [];

  constructor(
    private readonly link: RedisLink,
    private readonly name: string,
  ) {
    this.available = link.connected;
    this.unavailableReason = this.available ? undefined : 'connecting';
  }

  /** Runs `command`; rejects with StoreUnavailableError when Redis is away or too slow to answer. */
  run<T>(kind: CommandKind, command: () => Promise<T>): Promise<T> {
    if (this.link.isClosed) return Promise.reject(new StoreUnavailableError('store closed'));
    const timeoutMs = kind === 'lookup' ? this.link.config.lookupTimeoutMs : this.link.config.writeTimeoutMs;
    let pending: Promise<T>;
    try {
      pending = command();
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<T>((resolve, reject) => {
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        const why = `${kind} timed out after ${timeoutMs} ms`;
        this.markDown(why);
        reject(new StoreUnavailableError(`redis: ${why}`));
      }, timeoutMs);
      pending.then(
        (value) => {
          clearTimeout(timer);
          // A late answer still says Redis is back, whether or not its caller gave up on it.
          if (!this.available && this.link.connected) this.markUp();
          if (!timedOut) resolve(value);
        },
        (err: unknown) => {
          clearTimeout(timer);
          if (timedOut) return;
          if (!isOutage(err)) return reject(err);
          this.markDown((err as Error).message);
          reject(new StoreUnavailableError(`redis: ${(err as Error).message}`, { cause: err }));
        },
      );
    });
  }

  /**
   * A write script, registered once per process (EVALSHA): each call is bounded by the write
   * time-out, and Redis refuses to apply it once that time-out has passed (WRITE_DEADLINE), so a
   * 503 always means "not stored". Arguments as for `script`; the deadline is added here.
   */
  writeScript<T>(
    name: string,
    numberOfKeys: number | undefined,
    lua: string,
  ): (...args: (string | number)[]) => Promise<T> {
    const raw = this.link.script<T>(name, numberOfKeys, WRITE_DEADLINE + lua);
    const timeoutMs = this.link.config.writeTimeoutMs;
    return (...args) =>
      this.run('write', () => {
        const keysEnd = numberOfKeys ?? 1 + Number(args[0]);
        const deadline = this.link.serverNow() + timeoutMs;
        return raw(...args.slice(0, keysEnd), deadline, ...args.slice(keysEnd));
      });
  }

  /** Registers `lua` once per process (EVALSHA); see RedisLink.script. For reads: see writeScript. */
  script<T>(
    name: string,
    numberOfKeys: number | undefined,
    lua: string,
  ): (...args: (string | number)[]) => Promise<T> {
    return this.link.script<T>(name, numberOfKeys, lua);
  }

  subscribe(channel: string, listener: (message: string) => void): () => void {
    const unsubscribe = this.link.subscribe(channel, listener);
    this.unsubscribes.push(unsubscribe);
    return unsubscribe;
  }

  /** Called when Redis answers this family again, or the subscriber is back: time to resync. */
  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  settled(): Promise<void> {
    return this.link.settled();
  }

  waitUntilReady(timeoutMs: number): Promise<void> {
    return this.link.waitUntilReady(timeoutMs);
  }

  /** Detaches this family from the link; the link itself stays open for the others. */
  close(): void {
    for (const unsubscribe of this.unsubscribes.splice(0)) unsubscribe();
    this.reconnectListeners.clear();
    this.link.forget(this);
  }

  /** @internal RedisLink */
  markUp(): void {
    const wasDown = !this.available;
    this.available = true;
    this.unavailableReason = undefined;
    if (!wasDown) return;
    this.link.logger.info({ event: 'store.connected', store: 'redis' }, `${this.name} connected`);
    this.fireReconnect();
  }

  /** @internal RedisLink */
  markDown(why: string): void {
    if (this.link.isClosed) return;
    if (this.available) {
      this.link.logger.warn({ event: 'store.unavailable', store: 'redis', why }, `${this.name} lost`);
    }
    this.available = false;
    this.unavailableReason = why;
  }

  /** @internal RedisLink: the subscriber (re)subscribed; messages may have been missed meanwhile. */
  resubscribed(): void {
    if (this.available) this.fireReconnect();
  }

  private fireReconnect(): void {
    for (const listener of this.reconnectListeners) listener();
  }
}
