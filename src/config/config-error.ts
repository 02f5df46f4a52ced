import type { IssuerConfig, ListenConfig, ProtectionConfig } from './schema.js';

/**
 * What a configuration that failed its schema still says, for checks that need no whole config:
 * the issuers, the protection section and `listen.tls` that are valid by themselves, whose key
 * files, key sets, deny lists and certificates can still be loaded, so that one run reports those problems too.
 */
export interface PartialConfig {
  /** Absolute path of the file; relative paths inside it resolve against its folder. */
  readonly path: string;
  readonly issuers: Readonly<Record<string, IssuerConfig>>;
  readonly protection: ProtectionConfig | undefined;
  /** Every route name the file gives, valid route or not (protection rules name routes). */
  readonly routeNames: readonly string[];
  /** `listen.tls` when valid by itself: its files can still be read. */
  readonly listenTls: ListenConfig['tls'];
}

/** A configuration that cannot run; carries every problem found, each as `path: message`. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  /** Set when the file failed its schema: what can still be checked (see PartialConfig). */
  readonly partial: PartialConfig | undefined;

  constructor(problems: readonly string[], partial?: PartialConfig) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
    this.partial = partial;
  }
}
