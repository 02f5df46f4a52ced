import { parseArgs } from 'node:util';

export interface RunOptions {
  readonly only: readonly string[] | undefined;
  readonly quick: boolean;
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
  readonly rounds: number;
  readonly connections: number;
  readonly tokens: number;
  readonly build: boolean;
  /** 'auto': profile provgate where an issue-5 target is missed; 'always'; 'never'. */
  readonly profile: 'auto' | 'always' | 'never';
}

const HELP = `usage: node --import tsx load/run-all.ts [options]
  --only a,b        run only these scenarios (names as in the table)
  --quick           short measurements for a smoke run (also LOAD_QUICK=1)
  --duration s      seconds per measurement (default 5, quick 1.5)
  --rounds n        alternating rounds (default 3, quick 2)
  --warmup s        warm-up seconds per scenario (default 2, quick 1)
  --connections n   autocannon connections (default 32)
  --tokens n        distinct valid tokens in rotation (default 10000)
  --no-build        use dist/ as it is instead of running npm run build
  --profile         always capture CPU profiles of provgate (and of lean-proxy, to compare)
  --no-profile      never capture them (default: when an issue-5 target is missed)`;

export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): RunOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      only: { type: 'string' },
      quick: { type: 'boolean', default: false },
      duration: { type: 'string' },
      rounds: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      tokens: { type: 'string' },
      'no-build': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      'no-profile': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  const quick = values.quick || env.LOAD_QUICK === '1';
  const num = (v: string | undefined, fallback: number, name: string): number => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`);
    return n;
  };
  return {
    only: values.only
      ?.split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    quick,
    durationSeconds: num(values.duration, quick ? 1.5 : 5, 'duration'),
    warmupSeconds: num(values.warmup, quick ? 1 : 2, 'warmup'),
    rounds: Math.round(num(values.rounds, quick ? 2 : 3, 'rounds')),
    connections: Math.round(num(values.connections, 32, 'connections')),
    tokens: Math.round(num(values.tokens, 10_000, 'tokens')),
    build: !values['no-build'],
    profile: values['no-profile'] ? 'never' : values.profile ? 'always' : 'auto',
  };
}
