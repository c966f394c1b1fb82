'use strict';
// The classic Node.js `cluster` pattern: a primary forks --workers processes
// that share one listening socket, and forks a replacement when one dies.
// Workers serve /, /healthz and (inline) /compute/fib.
// stdout: "worker PID listening" for each worker that listens (replacements
// too), then once "listening on HOST:PORT" when all of the first ones do.
const cluster = require('node:cluster');
const { fibAnswer, send, makeServer, options } = require('./common.js');

const opts = options();

if (cluster.isPrimary) {
  let announced = false;
  let stopping = false;
  const listening = new Set();
  cluster.on('listening', (worker, address) => {
    listening.add(worker.id);
    console.log(`worker ${worker.process.pid} listening`);
    if (!announced && listening.size >= opts.workers) {
      announced = true;
      console.log(`listening on ${address.address}:${address.port} pid=${process.pid}`);
    }
  });
  cluster.on('exit', (worker, code, sig) => {
    listening.delete(worker.id);
    if (stopping) return;
    console.log(`worker ${worker.process.pid} died (${sig || code}); forking a replacement`);
    cluster.fork();
  });
  process.on('SIGTERM', () => {
    stopping = true;
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
    cluster.disconnect(() => process.exit(0));
  });
  for (let i = 0; i < opts.workers; i++) cluster.fork();
} else {
  // listen(0) in a cluster worker: the primary binds once and every worker
  // gets the same handle, hence the same port.
  const server = makeServer((n, res) => send(res, 200, fibAnswer(n), 'application/json'));
  server.keepAliveTimeout = 60000;
  server.listen(opts.port, opts.host);
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}
