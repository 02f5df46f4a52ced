import { type Network, parseNetwork } from './cidr.js';

export interface ParsedDenyList {
  readonly networks: Network[];
  /** `source:line: ...` for every line that is neither an address nor a CIDR. */
  readonly problems: string[];
}

/** One address or CIDR a line; `#` starts a comment; blank lines are ignored. */
export function parseDenyList(text: string, source: string): ParsedDenyList {
  const networks: Network[] = [];
  const problems: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const hash = lines[i]!.indexOf('#');
    const entry = (hash === -1 ? lines[i]! : lines[i]!.slice(0, hash)).trim();
    if (entry === '') continue;
    const network = parseNetwork(entry);
    if (network === undefined)
      problems.push(`${source}:${i + 1}: not an address or CIDR: ${entry.slice(0, 80)}`);
    else networks.push(network);
  }
  return { networks, problems };
}
