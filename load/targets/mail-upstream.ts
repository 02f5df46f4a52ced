// The upstream every proxy in the load run forwards to, and (as its own process) the
// "upstream alone" target: the floor that no proxy can beat.
import { createServer } from 'node:http';
import { argValue, exitWithParent } from './exit-with-parent.js';
import { MAIL_BODY } from './mail-body.js';

const HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'content-length': String(MAIL_BODY.length),
};

const server = createServer((req, res) => {
  // Requests carry no body here, but a keep-alive connection must still be drained.
  req.resume();
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
