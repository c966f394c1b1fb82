'use strict';
// The dispatch benchmark's Node.js peer: POST /echo hands the body to a
// Piscina pool (worker_threads) whose task returns it, and answers with it.
//   node piscina_echo.js --port P --threads N
const http = require('node:http');
const path = require('node:path');
const { Piscina } = require('piscina');

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const threads = Number(arg('--threads', '1'));
const pool = new Piscina({
  filename: path.join(__dirname, arg('--worker', 'piscina_echo_worker.js')),
  minThreads: threads,
  maxThreads: threads,
});

const server = http.createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('ok\n');
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    pool.run(Buffer.concat(chunks)).then(
      (out) => {
        res.writeHead(out.status || 200, { 'Content-Type': out.type || 'application/octet-stream' });
        res.end(out.body !== undefined ? out.body : Buffer.from(out));
      },
      (err) => {
        res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(String(err) + '\n');
      });
  });
});
server.keepAliveTimeout = 60000;
server.listen(Number(arg('--port', '8090')), '127.0.0.1', () => console.log(`listening on ${server.address().port}`));
