// A small mail-style API for the demo: it trusts the gateway's x-auth-* headers, like a real
// internal API behind provgate would, and its token endpoint mints resource tokens the way
// OWA's GetAccessTokenForResource did (the tokens Storm-0558 replayed to mint more).
import Fastify, { type FastifyInstance } from 'fastify';
import { decodeJwt, type JWK } from 'jose';
import { mintToken } from './dev-keys.js';

export interface MailApiOptions {
  readonly owaIssuer: string;
  readonly owaPrivateKey: JWK;
  readonly audience: string;
}

const FOLDERS = ['Inbox', 'Sent Items', 'Drafts', 'Archive'];

function messagesFor(user: string) {
  return Array.from({ length: 5 }, (_, i) => ({
    id: `msg-${i + 1}`,
    from: `colleague${i + 1}@example.test`,
    to: `${user}@example.test`,
    subject: ['Quarterly numbers', 'Travel plans', 'Re: incident review', 'Lunch?', 'Key rotation schedule'][
      i
    ],
    receivedDateTime: new Date(Date.UTC(2026, 10, 20 + i, 9, 30)).toISOString(),
    hasAttachments: i % 2 === 0,
  }));
}

export function buildMailApi(options: MailApiOptions): FastifyInstance {
  const app = Fastify({ logger: false });
  const user = (headers: Record<string, unknown>) => String(headers['x-auth-subject'] ?? 'unknown');

  app.get('/api/mail/messages', async (request) => ({ value: messagesFor(user(request.headers)) }));
  app.get<{ Params: { id: string } }>('/api/mail/messages/:id', async (request, reply) => {
    const message = messagesFor(user(request.headers)).find((m) => m.id === request.params.id);
    if (message === undefined) return reply.code(404).send({ error: 'not_found' });
    return { ...message, body: `Hello ${user(request.headers)}, this is ${message.id}.` };
  });
  app.get<{ Params: { id: string; aid: string } }>(
    '/api/mail/messages/:id/attachments/:aid',
    async (_request, reply) => {
      reply.header('content-type', 'application/octet-stream');
      return Buffer.alloc(256 * 1024, 65);
    },
  );
  app.get('/api/mail/folders', async () => ({
    value: FOLDERS.map((name, i) => ({ id: `folder-${i}`, displayName: name })),
  }));
  app.post('/api/token', async (request) => {
    const body = (request.body ?? {}) as { resource?: string };
    // A well-behaved minting API: the derived token lives no longer than the one it was shown
    // (the gateway refuses to deliver one that would: mint_refused).
    const now = Math.floor(Date.now() / 1000);
    const presented = String(request.headers.authorization ?? '').replace(/^Bearer\s+/i, '');
    const parentExp = presented === '' ? undefined : decodeJwt(presented).exp;
    const ttlSeconds = Math.max(1, Math.min(3600, (parentExp ?? now + 3600) - now));
    const token = await mintToken(
      options.owaPrivateKey,
      {
        iss: options.owaIssuer,
        sub: user(request.headers),
        aud: body.resource ?? options.audience,
        scp: 'Mail.Read',
        tid:
          typeof request.headers['x-auth-tenant'] === 'string' ? request.headers['x-auth-tenant'] : undefined,
      },
      { ttlSeconds, now },
    );
    return { access_token: token, token_type: 'Bearer', expires_in: ttlSeconds };
  });
  return app;
}
