import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { watchFile } from '../config/watch-file.js';
import { AddressMatcher } from './address-matcher.js';
import type { Network } from './cidr.js';
import { parseDenyList } from './deny-list-file.js';

export interface DenyListFile {
  /** Absolute path, resolved against the config file's folder. */
  readonly path: string;
  /** Contents as read when the configuration was loaded. */
  readonly networks: readonly Network[];
}

export interface DenyListSpec {
  readonly cidrs: readonly Network[];
  readonly files: readonly DenyListFile[];
  readonly enforce: boolean;
  readonly pollMs: number;
}

/**
 * Inline networks plus the current contents of every file. A reload builds a new matcher and
 * swaps it in whole, so a request sees the old list or the new one, never half of each.
 */
export class DenyList {
  readonly enforce: boolean;
  private matcher: AddressMatcher;
  private readonly fileNetworks = new Map<string, readonly Network[]>();
  private readonly stops: (() => void)[] = [];

  constructor(
    private readonly spec: DenyListSpec,
    private readonly logger: Logger,
  ) {
    this.enforce = spec.enforce;
    for (const file of spec.files) this.fileNetworks.set(file.path, file.networks);
    this.matcher = this.build();
  }

  get size(): number {
    return this.matcher.size;
  }

  matches(address: string): boolean {
    return this.matcher.matches(address);
  }

  start(): void {
    for (const file of this.spec.files) {
      this.stops.push(watchFile(file.path, this.spec.pollMs, () => this.reload(file.path)));
    }
  }

  stop(): void {
    for (const stop of this.stops.splice(0)) stop();
  }

  /** Re-reads one file. An unreadable file keeps its last good contents: a list never silently empties. */
  reload(path: string): void {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      this.logger.warn(
        { event: 'deny_list.unreadable', file: path, err: (err as NodeJS.ErrnoException).code },
        'deny-list file unreadable; keeping its previous entries',
      );
      return;
    }
    const parsed = parseDenyList(text, path);
    for (const problem of parsed.problems) this.logger.warn({ event: 'deny_list.bad_line' }, problem);
    this.fileNetworks.set(path, parsed.networks);
    this.matcher = this.build();
    this.logger.info(
      { event: 'deny_list.reloaded', file: path, entries: parsed.networks.length, total: this.matcher.size },
      'deny list reloaded',
    );
  }

  private build(): AddressMatcher {
    return new AddressMatcher([...this.spec.cidrs, ...[...this.fileNetworks.values()].flat()]);
  }
}
