'use strict';
// What the Node.js peers share: the routes clusterd serves (/, /healthz and
// /compute/fib?n= with the same JSON answer), argument parsing and the
// "listening on HOST:PORT" line that bench/lab reads to learn the port.
const http = require('node:http');

const FIB_MAX_N = 92;

function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

// {"kind":"fib","n":30,"result":832040,"compute_ms":1.234}, like clusterd.
// Numbers above 2^53 lose precision in a double; the lab's n stays far below.
function fibAnswer(n) {
  const t0 = process.hrtime.bigint();
  const result = fib(n);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return `{"kind":"fib","n":${n},"result":${result},"compute_ms":${ms.toFixed(3)}}\n`;
}

function parseFibN(url) {
  const q = new URL(url, 'http://x').searchParams.get('n');
  if (q === null || !/^[0-9]+$/.test(q) || Number(q) > FIB_MAX_N) return null;
  return Number(q);
}

function send(res, status, body, type = 'text/plain') {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

// handler(req, res, fibN) answers /compute/fib; everything else is here.
function makeServer(computeFib) {
  return http.createServer((req, res) => {
    const path = req.url.split('?')[0];
    if (path === '/') return send(res, 200, 'hello\n');
    if (path === '/healthz') return send(res, 200, 'ok\n');
    if (path === '/compute/fib') {
      const n = parseFibN(req.url);
      if (n === null) return send(res, 400, `n must be an integer from 0 to ${FIB_MAX_N}\n`);
      return computeFib(n, res);
    }
    return send(res, 404, 'not found\n');
  });
}

// --port P --host H --workers N (also PORT, HOST, WORKERS in the environment)
function options() {
  const opts = { host: process.env.HOST || '127.0.0.1', port: Number(process.env.PORT || 0),
                 workers: Number(process.env.WORKERS || 2) };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in opts)) { console.error(`unknown option ${argv[i]}`); process.exit(2); }
    opts[key] = key === 'host' ? argv[i + 1] : Number(argv[i + 1]);
  }
  return opts;
}

module.exports = { fib, fibAnswer, send, makeServer, options };
