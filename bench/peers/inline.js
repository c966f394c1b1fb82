'use strict';
// The single-threaded Node.js server: fib runs on the event loop, so every
// other request (a health probe too) waits for it. The baseline of the
// classic experiment and of clusterd's --compute=inline.
const { fibAnswer, send, makeServer, options } = require('./common.js');

const opts = options();
const server = makeServer((n, res) => send(res, 200, fibAnswer(n), 'application/json'));
server.keepAliveTimeout = 60000;
server.listen(opts.port, opts.host, () => {
  const a = server.address();
  console.log(`listening on ${a.address}:${a.port} pid=${process.pid}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
