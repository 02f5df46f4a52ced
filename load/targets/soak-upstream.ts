// The upstream of the memory soak: the ~1 KB mail body for ordinary requests, and on
// `/api/mail/attachments/*` an endless attachment written only as fast as the client reads it
// (backpressure end to end), so a slow client holds a proxied stream open for the whole run.
import { createServer } from 'node:http';
import { argValue, exitWithParent } from './exit-with-parent.js';
import { MAIL_BODY } from './mail-body.js';

const CHUNK = Buffer.alloc(16 * 1024, 0x61);
const HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'content-length': String(MAIL_BODY.length),
};

const server = createServer((req, res) => {
  req.resume();
  if (req.url?.startsWith('/api/mail/attachments/')) {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const pump = () => {
      while (res.write(CHUNK)) {
        if (res.destroyed) return;
      }
    };
    res.on('drain', pump);
    res.on('close', () => res.off('drain', pump));
    pump();
    return;
  }
  req.on('end', () => {
    res.writeHead(200, HEADERS);
    res.end(MAIL_BODY);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(argValue('port')), '127.0.0.1');
exitWithParent(() => {
  server.closeAllConnections();
  server.close();
});
