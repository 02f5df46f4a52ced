// A Shared Signals transmitter on a loopback port, as an identity provider runs one: its SSF
// configuration document (/.well-known/ssf-configuration), its own key set (generated at test
// time, asynchronously), a poll endpoint (RFC 8936), a push client (RFC 8935) and a verification
// endpoint (SSF 1.0 section 8.1.4) that answers 204 and then sends the verification SET back.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWK } from 'jose';
import { type DevKeyPair, generateDevKey } from '../../src/demo/dev-keys.js';
import { type SetSpec, signSet } from '../../src/signals/sign-set.js';

/** The audience the gateway is configured with in the signals tests. */
export const SSF_AUDIENCE = 'https://gateway.example.test/ssf';

/** How the poll endpoint answers: `ok`; `error` (HTTP 500); `down` (connection reset); `garbage` (200, not JSON). */
export type PollMode = 'ok' | 'error' | 'down' | 'garbage';

export interface PushAnswer {
  readonly status: number;
  readonly body: string;
  readonly json: Record<string, unknown> | undefined;
  readonly headers: Headers;
}

export interface PollRequest {
  readonly maxEvents: unknown;
  readonly ack: string[];
  readonly setErrs: Record<string, { err: string; description: string }>;
  readonly authorization: string | undefined;
}

export interface VerificationRequest {
  readonly body: Record<string, unknown>;
  readonly authorization: string | undefined;
}

export interface TransmitterStub {
  readonly url: string;
  readonly issuer: string;
  readonly configurationUrl: string;
  readonly jwksUrl: string;
  readonly pollUrl: string;
  readonly verificationUrl: string;
  /** What the verification endpoint was sent, in order. */
  readonly verificationRequests: VerificationRequest[];
  /**
   * Where the verification SET goes: a push URL, or `poll` (queued for the poll endpoint).
   * Undefined: the request is answered 204 and nothing is sent.
   */
  verificationDelivery: string | undefined;
  /** What the gateway answered each verification SET pushed back. */
  readonly verificationPushes: PushAnswer[];
  /** Whether the configuration document names the verification endpoint. */
  advertiseVerification: boolean;
  /** The key it signs with; `published` is what its key set serves. */
  readonly key: DevKeyPair;
  published: JWK[];
  /** `critical_subject_members` of its configuration document (SSF 1.0 section 3.6). */
  criticalSubjectMembers: string[] | undefined;
  /** Signs a SET as this transmitter: iss, aud and the key default to its own. */
  sign(spec: Partial<SetSpec> & Pick<SetSpec, 'event'>, options?: SignOptions): Promise<string>;
  /** POSTs a SET to a push endpoint as RFC 8935 says (Content-Type application/secevent+jwt). */
  push(url: string, set: string, options?: PushOptions): Promise<PushAnswer>;
  /** Queues a SET for the poll endpoint under `jti`; it is served until acknowledged or refused. */
  queue(jti: string, set: string): void;
  /** Unacknowledged SETs, by jti, in the order queued. */
  readonly pending: Map<string, string>;
  readonly acked: string[];
  readonly setErrs: Record<string, { err: string; description: string }>;
  readonly pollRequests: PollRequest[];
  pollMode: PollMode;
  /** Called with each batch just before it is answered (a test may kill the receiver then). */
  onBatch: ((jtis: string[]) => void) | undefined;
  close(): Promise<void>;
}

export interface SignOptions {
  /** Another key than the transmitter's own (a token issuer's, another transmitter's). */
  readonly key?: DevKeyPair;
  readonly header?: Record<string, unknown>;
}

export interface PushOptions {
  readonly authorization?: string;
  readonly contentType?: string;
  readonly headers?: Record<string, string>;
}

export async function startTransmitterStub(
  options: { alg?: 'ES256' | 'RS256'; kid?: string; issuer?: string } = {},
): Promise<TransmitterStub> {
  const key = await generateDevKey(
    options.alg ?? 'ES256',
    options.kid ?? `ssf-${crypto.randomUUID().slice(0, 8)}`,
  );
  let base = '';
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://stub').pathname;
    if (path === '/.well-known/ssf-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          spec_version: '1_0',
          issuer: stub.issuer,
          jwks_uri: `${base}/jwks`,
          delivery_methods_supported: ['urn:ietf:rfc:8935', 'urn:ietf:rfc:8936'],
          ...(stub.advertiseVerification ? { verification_endpoint: `${base}/verify` } : {}),
          ...(stub.criticalSubjectMembers === undefined
            ? {}
            : { critical_subject_members: stub.criticalSubjectMembers }),
        }),
      );
      return;
    }
    if (path === '/jwks') {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ keys: stub.published }));
      return;
    }
    if (path === '/poll' && req.method === 'POST') {
      void answerPoll(req, res);
      return;
    }
    if (path === '/verify' && req.method === 'POST') {
      void answerVerification(req, res);
      return;
    }
    res.writeHead(404).end();
  });

  async function answerPoll(req: IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as {
      maxEvents?: number;
      ack?: string[];
      setErrs?: Record<string, { err: string; description: string }>;
    };
    stub.pollRequests.push({
      maxEvents: body.maxEvents,
      ack: body.ack ?? [],
      setErrs: body.setErrs ?? {},
      authorization: req.headers.authorization,
    });
    if (stub.pollMode === 'down') {
      res.socket?.destroy();
      return;
    }
    if (stub.pollMode === 'error') {
      res.writeHead(500).end('oops');
      return;
    }
    if (stub.pollMode === 'garbage') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('<html>maintenance</html>');
      return;
    }
    // RFC 8936 section 2.4: acknowledged and refused SETs are never served again.
    for (const jti of body.ack ?? []) {
      if (stub.pending.delete(jti)) stub.acked.push(jti);
    }
    for (const [jti, error] of Object.entries(body.setErrs ?? {})) {
      stub.pending.delete(jti);
      stub.setErrs[jti] = error;
    }
    const max = typeof body.maxEvents === 'number' ? body.maxEvents : 10;
    const batch = [...stub.pending.entries()].slice(0, max);
    stub.onBatch?.(batch.map(([jti]) => jti));
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(
        JSON.stringify({ sets: Object.fromEntries(batch), moreAvailable: stub.pending.size > batch.length }),
      );
  }

  async function answerVerification(
    req: IncomingMessage,
    res: import('node:http').ServerResponse,
  ): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
    stub.verificationRequests.push({ body, authorization: req.headers.authorization });
    res.writeHead(204).end();
    const delivery = stub.verificationDelivery;
    if (delivery === undefined) return;
    // SSF 1.0 section 8.1.4: the state comes back in a verification event, sub_id the stream.
    const jti = crypto.randomUUID();
    const set = await stub.sign({
      jti,
      event: 'verification',
      subject: { format: 'opaque', id: typeof body.stream_id === 'string' ? body.stream_id : 'stream' },
      payload: typeof body.state === 'string' ? { state: body.state } : {},
    });
    if (delivery === 'poll') stub.queue(jti, set);
    else stub.verificationPushes.push(await stub.push(delivery, set));
  }

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const stub: TransmitterStub = {
    url: base,
    issuer: options.issuer ?? base,
    configurationUrl: `${base}/.well-known/ssf-configuration`,
    jwksUrl: `${base}/jwks`,
    pollUrl: `${base}/poll`,
    verificationUrl: `${base}/verify`,
    verificationRequests: [],
    verificationDelivery: undefined,
    verificationPushes: [],
    advertiseVerification: true,
    key,
    published: [key.publicJwk],
    criticalSubjectMembers: undefined,
    pending: new Map(),
    acked: [],
    setErrs: {},
    pollRequests: [],
    pollMode: 'ok',
    onBatch: undefined,
    sign: (spec, signOptions = {}) =>
      signSet(
        (signOptions.key ?? key).privateJwk,
        { iss: stub.issuer, aud: SSF_AUDIENCE, subject: undefined, ...spec },
        signOptions.header === undefined ? {} : { header: signOptions.header },
      ),
    push: async (url, set, pushOptions = {}) => {
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': pushOptions.contentType ?? 'application/secevent+jwt',
          accept: 'application/json',
          ...(pushOptions.authorization === undefined ? {} : { authorization: pushOptions.authorization }),
          ...pushOptions.headers,
        },
        body: set,
      });
      const body = await res.text();
      let json: Record<string, unknown> | undefined;
      try {
        json = JSON.parse(body) as Record<string, unknown>;
      } catch {
        json = undefined;
      }
      return { status: res.status, body, json, headers: res.headers };
    },
    queue: (jti, set) => {
      stub.pending.set(jti, set);
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return stub;
}
