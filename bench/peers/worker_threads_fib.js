'use strict';
// The classic Node.js `worker_threads` pattern: the main thread serves HTTP
// (/, /healthz on the loop) and hands each /compute/fib to a fixed pool of
// --workers threads through a FIFO queue, so the loop stays free.
const { Worker, isMainThread, parentPort } = require('node:worker_threads');
const { fibAnswer, send, makeServer, options } = require('./common.js');

if (!isMainThread) {
  parentPort.on('message', ({ id, n }) => parentPort.postMessage({ id, body: fibAnswer(n) }));
} else {
  const opts = options();
  const idle = [];
  const queue = [];          // [id, n] waiting for a thread
  const waiting = new Map(); // id -> res
  let nextId = 0;

  const dispatch = () => {
    while (idle.length && queue.length) {
      const [id, n] = queue.shift();
      idle.pop().postMessage({ id, n });
    }
  };
  for (let i = 0; i < opts.workers; i++) {
    const w = new Worker(__filename);
    w.on('message', ({ id, body }) => {
      const res = waiting.get(id);
      waiting.delete(id);
      if (res && !res.destroyed) send(res, 200, body, 'application/json');
      idle.push(w);
      dispatch();
    });
    w.on('error', (e) => { console.error(`fib thread failed: ${e}`); process.exit(1); });
    idle.push(w);
  }

  const server = makeServer((n, res) => {
    const id = nextId++;
    waiting.set(id, res);
    queue.push([id, n]);
    dispatch();
  });
  server.keepAliveTimeout = 60000;
  server.listen(opts.port, opts.host, () => {
    const a = server.address();
    console.log(`listening on ${a.address}:${a.port} pid=${process.pid} threads=${opts.workers}`);
  });
  process.on('SIGTERM', () => process.exit(0));
}
