// npm run bench:memory [-- --count N]: memory stays bounded by the verified-token cache settings
// however many distinct tokens pass. N (default 1,000,000) distinct valid ~1 KB tokens go
// through the gateway's TokenVerifier with its default cache bounds; heap and RSS are sampled
// along the way. EdDSA keeps signing the tokens cheap: the cache holds the same entries
// whatever the algorithm.
import { createPrivateKey, sign } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema } from '../src/config/schema.js';
import { generateDevKey, jwksOf } from '../src/demo/dev-keys.js';
import { RevocationMirror } from '../src/revocation/revocation-mirror.js';
import { compileConfig } from '../src/runtime/compile-config.js';
import { TokenVerifier } from '../src/verify/verify-token.js';
import { RESULTS_DIR } from './report/write-results.js';
import { enterpriseClaims, LOAD_AUDIENCE, LOAD_ISSUER } from './setup/enterprise-claims.js';

const countArg = process.argv.indexOf('--count');
const count = countArg === -1 ? 1_000_000 : Number(process.argv[countArg + 1]);
const gc = (globalThis as { gc?: () => void }).gc;
const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

const dir = mkdtempSync(join(tmpdir(), 'provgate-memory-'));
try {
  const key = await generateDevKey('EdDSA', 'mem-1');
  writeFileSync(join(dir, 'keys.json'), JSON.stringify(jwksOf([key])));
  const config = configSchema.parse({
    issuers: {
      enterprise: {
        issuer: LOAD_ISSUER,
        role: 'identity-provider',
        keys: { file: 'keys.json' },
        algorithms: ['EdDSA'],
      },
    },
    routes: [
      {
        name: 'mail',
        prefix: '/api/mail',
        upstream: 'http://127.0.0.1:1',
        audience: LOAD_AUDIENCE,
        issuers: ['enterprise'],
      },
    ],
  });
  const compiled = await compileConfig(config, join(dir, 'gateway.yaml'), { fetchKeys: false });
  // Every token enters at once: this measures the cache's own bound, which the default
  // second-sighting admission would never let a stream of distinct tokens reach.
  const cacheSettings = { ...config.verification.cache, admission: 'first-sighting' as const };
  const verifier = new TokenVerifier({
    registry: compiled.registry,
    revocations: new RevocationMirror(),
    clock: Date.now,
    cache: cacheSettings,
    forgeryChecksPerSecond: 0,
  });
  const privateKey = createPrivateKey({
    key: key.privateJwk as import('node:crypto').JsonWebKey,
    format: 'jwk',
  });
  const header = Buffer.from(JSON.stringify({ alg: 'EdDSA', kid: 'mem-1', typ: 'JWT' })).toString(
    'base64url',
  );
  const now = Math.floor(Date.now() / 1000);

  gc?.();
  const baseline = process.memoryUsage();
  const samples: { tokens: number; cacheEntries: number; cacheMB: number; heapMB: number; rssMB: number }[] =
    [];
  const every = Math.max(1, Math.floor(count / 10));
  const started = Date.now();
  let tokenBytes = 0;
  for (let n = 1; n <= count; n++) {
    const payload = Buffer.from(JSON.stringify(enterpriseClaims(n, now))).toString('base64url');
    const input = `${header}.${payload}`;
    const token = `${input}.${sign(null, Buffer.from(input), privateKey).toString('base64url')}`;
    tokenBytes = token.length;
    verifier.verify(token, false);
    if (n % every === 0) {
      gc?.();
      const m = process.memoryUsage();
      const s = verifier.stats;
      samples.push({
        tokens: n,
        cacheEntries: s.size,
        cacheMB: mb(s.bytes),
        heapMB: mb(m.heapUsed),
        rssMB: mb(m.rss),
      });
      console.log(
        `${n.toLocaleString('en')} tokens  cache ${s.size.toLocaleString('en')} entries (${mb(s.bytes)} MB accounted)  heap ${mb(m.heapUsed)} MB  rss ${mb(m.rss)} MB`,
      );
    }
  }
  const last = samples.at(-1)!;
  const result = {
    benchmark: 'cache-memory',
    at: new Date().toISOString(),
    tokens: count,
    tokenBytes,
    seconds: (Date.now() - started) / 1000,
    cache: cacheSettings,
    baseline: { heapMB: mb(baseline.heapUsed), rssMB: mb(baseline.rss) },
    samples,
    heapGrowthMB: Math.round((last.heapMB - mb(baseline.heapUsed)) * 10) / 10,
    gcForced: gc !== undefined,
    node: process.version,
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, 'cache-memory.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(
    `\nheap grew ${result.heapGrowthMB} MB for ${count.toLocaleString('en')} distinct tokens; cache bounds: ${cacheSettings.maxEntries.toLocaleString('en')} entries, ${mb(cacheSettings.maxBytes)} MB`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
