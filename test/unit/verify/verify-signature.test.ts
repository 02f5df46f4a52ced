// Differential test: provgate's synchronous node:crypto verifier against jose's compactVerify
// (WebCrypto) on a generated corpus. Whatever one accepts the other must accept, item by item.
import assert from 'node:assert/strict';
import { constants, createPrivateKey, type KeyObject, randomBytes, randomInt, sign } from 'node:crypto';
import { before, test } from 'node:test';
import { CompactSign, type CryptoKey, compactVerify, importJWK, type JWK } from 'jose';
import { type DevKeyPair, generateDevKey } from '../../../src/demo/dev-keys.js';
import type { KeyEntry } from '../../../src/keys/key-entry.js';
import { importJwks } from '../../../src/keys/load-jwks.js';
import { verifySignature } from '../../../src/verify/verify-signature.js';
import { keyRing } from '../../helpers/gateway-fixture.js';

type Alg = 'RS256' | 'PS256' | 'ES256' | 'EdDSA';
const ALGS: readonly Alg[] = ['RS256', 'PS256', 'ES256', 'EdDSA'];
const BASE_TOKENS_PER_ALG = 60;

/** One key in the three forms the test needs: ours, jose's, and a private key to sign with. */
interface TestKey {
  readonly name: string;
  readonly entry: KeyEntry;
  readonly jose: Map<Alg, CryptoKey>;
  readonly privateKey: KeyObject;
  readonly privateJwk: JWK;
}

interface Item {
  readonly kind: string;
  readonly alg: Alg;
  readonly token: string;
  readonly key: TestKey;
}

const keysByType = new Map<'RSA' | 'EC' | 'OKP', TestKey[]>();

// The JWKs pin an alg; WebCrypto refuses a JWK whose alg differs from the one asked for, and
// an RSA key serves both RS256 and PS256 here, so the pin is dropped.
const unpinned = (jwk: JWK): JWK => {
  const { alg: _alg, ...rest } = jwk;
  return rest;
};

async function testKey(pair: DevKeyPair, algs: readonly Alg[]): Promise<TestKey> {
  const imported = await importJwks({ keys: [unpinned(pair.publicJwk)] }, 'test', {}, 'test');
  assert.deepEqual(imported.problems, []);
  const jose = new Map<Alg, CryptoKey>();
  for (const alg of algs) jose.set(alg, (await importJWK(unpinned(pair.publicJwk), alg)) as CryptoKey);
  return {
    name: pair.kid,
    entry: imported.keys[0]!,
    jose,
    privateKey: createPrivateKey({ key: pair.privateJwk as import('node:crypto').JsonWebKey, format: 'jwk' }),
    privateJwk: unpinned(pair.privateJwk),
  };
}

const enc = (b: Buffer | Uint8Array | string) => Buffer.from(b).toString('base64url');
const P256_N = BigInt('0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551');
const ED25519_L = 2n ** 252n + 27742317777372353535851937790883648493n;

const toBig = (b: Buffer) => BigInt(`0x${b.toString('hex') || '0'}`);
const fromBig = (n: bigint, len: number) => Buffer.from(n.toString(16).padStart(len * 2, '0'), 'hex');

/** ASN.1 DER form of a JWS r||s ECDSA signature: what a careless signer emits instead. */
function derOf(raw: Buffer): Buffer {
  const integer = (bytes: Buffer) => {
    let i = 0;
    while (i < bytes.length - 1 && bytes[i] === 0) i++;
    let v = bytes.subarray(i);
    if (v[0]! & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
    return Buffer.concat([Buffer.from([0x02, v.length]), v]);
  };
  const body = Buffer.concat([integer(raw.subarray(0, 32)), integer(raw.subarray(32))]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

function randomPayload(i: number): Record<string, unknown> {
  return {
    iss: 'https://login.example.test/enterprise/v2.0',
    sub: `user-${i}-${randomBytes(4).toString('hex')}`,
    aud: 'https://mail.example.test',
    iat: 1_700_000_000 + i,
    exp: 1_700_003_600 + i,
    scp: 'Mail.Read',
    note: 'é√😀'.repeat(randomInt(0, 4)),
    pad: randomBytes(randomInt(0, 64)).toString('base64'),
  };
}

function withSignature(token: string, signature: Buffer): string {
  return `${token.slice(0, token.lastIndexOf('.') + 1)}${enc(signature)}`;
}

function signatureOf(token: string): Buffer {
  return Buffer.from(token.slice(token.lastIndexOf('.') + 1), 'base64url');
}

/** A signature made directly with node:crypto, for variants jose would never produce. */
function rawSign(
  key: TestKey,
  input: string,
  how: { padding?: number; saltLength?: number; dsaEncoding?: 'der' },
): Buffer {
  return sign('sha256', Buffer.from(input), { key: key.privateKey, ...how });
}

async function buildCorpus(): Promise<Item[]> {
  const items: Item[] = [];
  const typeOf = (alg: Alg) => (alg === 'ES256' ? 'EC' : alg === 'EdDSA' ? 'OKP' : 'RSA');
  for (const alg of ALGS) {
    const keys = keysByType.get(typeOf(alg))!;
    for (let i = 0; i < BASE_TOKENS_PER_ALG; i++) {
      const signer = keys[i % keys.length]!;
      const other = keys[(i + 1) % keys.length]!;
      const header = { alg, kid: signer.name, typ: 'JWT' };
      const joseKey = await importJWK(signer.privateJwk, alg);
      const token = await new CompactSign(Buffer.from(JSON.stringify(randomPayload(i))))
        .setProtectedHeader(header)
        .sign(joseKey);
      const [h, p] = token.split('.') as [string, string];
      const sig = signatureOf(token);
      const add = (kind: string, t: string, key: TestKey = signer) =>
        items.push({ kind, alg, token: t, key });

      add('valid', token);
      add('tampered payload', `${h}.${enc(JSON.stringify(randomPayload(i + 1)))}.${enc(sig)}`);
      add('tampered header', `${enc(JSON.stringify({ ...header, x: i }))}.${p}.${enc(sig)}`);
      const flipped = Buffer.from(sig);
      const bit = randomInt(0, sig.length * 8);
      flipped[bit >> 3]! ^= 1 << (bit & 7);
      add('flipped signature bit', withSignature(token, flipped));
      add('wrong key', token, other);
      add('truncated signature', withSignature(token, sig.subarray(0, sig.length - randomInt(1, 9))));
      add('extended signature', withSignature(token, Buffer.concat([sig, randomBytes(randomInt(1, 5))])));
      add('empty signature', withSignature(token, Buffer.alloc(0)));
      add('random signature', withSignature(token, randomBytes(sig.length)));
      add('zero signature', withSignature(token, Buffer.alloc(sig.length)));

      const input = `${h}.${p}`;
      if (alg === 'ES256') {
        add('DER-encoded ECDSA signature', withSignature(token, derOf(sig)));
        add(
          'DER signature from the signer',
          withSignature(token, rawSign(signer, input, { dsaEncoding: 'der' })),
        );
        const high = fromBig(P256_N - toBig(sig.subarray(32)), 32);
        add('high-S ECDSA signature', withSignature(token, Buffer.concat([sig.subarray(0, 32), high])));
      }
      if (alg === 'EdDSA') {
        const s = toBig(Buffer.from(sig.subarray(32)).reverse());
        const sPlusL = fromBig(s + ED25519_L, 32).reverse();
        add('Ed25519 S + L', withSignature(token, Buffer.concat([sig.subarray(0, 32), sPlusL])));
      }
      if (alg === 'RS256') {
        add(
          'PSS signature under an RS256 header',
          withSignature(
            token,
            rawSign(signer, input, {
              padding: constants.RSA_PKCS1_PSS_PADDING,
              saltLength: 32,
            }),
          ),
        );
      }
      if (alg === 'PS256') {
        add(
          'PKCS1 v1.5 signature under a PS256 header',
          withSignature(
            token,
            rawSign(signer, input, {
              padding: constants.RSA_PKCS1_PADDING,
            }),
          ),
        );
        add(
          'PSS with the maximum salt length',
          withSignature(
            token,
            rawSign(signer, input, {
              padding: constants.RSA_PKCS1_PSS_PADDING,
              saltLength: constants.RSA_PSS_SALTLEN_MAX_SIGN,
            }),
          ),
        );
        add(
          'PSS with an empty salt',
          withSignature(
            token,
            rawSign(signer, input, {
              padding: constants.RSA_PKCS1_PSS_PADDING,
              saltLength: 0,
            }),
          ),
        );
        add(
          'PSS with salt length 32 from node',
          withSignature(
            token,
            rawSign(signer, input, {
              padding: constants.RSA_PKCS1_PSS_PADDING,
              saltLength: 32,
            }),
          ),
        );
      }
    }
  }
  return items;
}

async function joseAccepts(item: Item): Promise<boolean> {
  try {
    await compactVerify(item.token, item.key.jose.get(item.alg)!, { algorithms: [item.alg] });
    return true;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') return false;
    throw new Error(
      `jose threw ${code ?? String(err)} on a "${item.kind}" item; the corpus must stay well formed`,
    );
  }
}

function oursAccepts(item: Item): boolean {
  const dot = item.token.lastIndexOf('.');
  const signature = Buffer.from(item.token.slice(dot + 1), 'base64url');
  return verifySignature(item.alg, item.key.entry, item.token.slice(0, dot), signature);
}

let corpus: Item[];

before(async () => {
  const ring = await keyRing();
  const rsaAlgs: Alg[] = ['RS256', 'PS256'];
  keysByType.set('RSA', [
    await testKey(ring.enterprise, rsaAlgs),
    await testKey(ring.consumer, rsaAlgs),
    await testKey(ring.stray, rsaAlgs),
  ]);
  keysByType.set('EC', [await testKey(ring.enterpriseEs, ['ES256']), await testKey(ring.owa, ['ES256'])]);
  keysByType.set('OKP', [
    await testKey(await generateDevKey('EdDSA', 'ed-1'), ['EdDSA']),
    await testKey(await generateDevKey('EdDSA', 'ed-2'), ['EdDSA']),
  ]);
  corpus = await buildCorpus();
});

test('node:crypto verifySignature and jose compactVerify agree on every item of the corpus', async () => {
  assert.ok(corpus.length >= 2000, `corpus of ${corpus.length} items`);
  const disagreements: string[] = [];
  const accepted = new Map<string, number>();
  for (const item of corpus) {
    const theirs = await joseAccepts(item);
    const ours = oursAccepts(item);
    if (ours !== theirs) {
      disagreements.push(
        `${item.alg} ${item.kind}: provgate ${ours}, jose ${theirs} (${item.token.slice(-24)})`,
      );
    }
    if (ours) accepted.set(`${item.alg} ${item.kind}`, (accepted.get(`${item.alg} ${item.kind}`) ?? 0) + 1);
  }
  assert.deepEqual(disagreements, []);

  // The corpus is not trivially all-refused: every honest signature verifies, under both.
  for (const alg of ALGS) assert.equal(accepted.get(`${alg} valid`), BASE_TOKENS_PER_ALG, `${alg} valid`);
  // And what both accept besides is only what the algorithms themselves allow.
  const acceptedKinds = [...accepted.keys()].filter((k) => !k.endsWith(' valid')).sort();
  assert.deepEqual(acceptedKinds, [
    'ES256 high-S ECDSA signature',
    'PS256 PSS with salt length 32 from node',
  ]);
});
