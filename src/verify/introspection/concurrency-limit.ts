import { IntrospectionUnavailable } from './introspection-unavailable.js';

/**
 * At most `max` exchanges with one endpoint at once; up to `maxQueued` more wait for a slot until
 * their deadline. Past that a request is refused at once: a slow endpoint must not gather an
 * unbounded crowd of waiting requests (and their memory) in front of it.
 */
export class ConcurrencyLimit {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly max: number,
    readonly maxQueued: number,
  ) {}

  get active(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Runs `work` in a slot, waiting at most until `deadline` (performance.now() ms) for one. */
  async run<T>(work: () => Promise<T>, deadline: number): Promise<T> {
    if (this.running >= this.max) await this.slot(deadline);
    else this.running += 1;
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter: `running` stays where it is.
      if (next !== undefined) next();
      else this.running -= 1;
    }
  }

  private slot(deadline: number): Promise<void> {
    if (this.waiting.length >= this.maxQueued) {
      return Promise.reject(
        new IntrospectionUnavailable(`endpoint busy: ${this.max} in flight, ${this.maxQueued} waiting`),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const granted = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(
        () => {
          const i = this.waiting.indexOf(granted);
          if (i !== -1) this.waiting.splice(i, 1);
          reject(new IntrospectionUnavailable('no slot to the endpoint within the time-out'));
        },
        Math.max(0, deadline - performance.now()),
      );
      timer.unref();
      this.waiting.push(granted);
    });
  }
}
