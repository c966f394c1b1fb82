// A Node.js HTTP server as a user moving off PM2 would run it under
// `clusterd -- node node_server.js`: nothing but Node's standard library.
//   - the listening socket is fd 3 (systemd's socket activation: LISTEN_FDS)
//   - READY=1, STATUS= and WATCHDOG=1 go as lines to the stream descriptor in
//     CLUSTERD_NOTIFY_FD (Node has no unix datagram sockets of its own)
//   - SIGTERM: stop accepting, finish what is in flight (server.close()), exit 0
// A keep-alive connection is never closed under a client that may be sending
// on it: once stopping, every response says "Connection: close" (the client
// then reconnects, to a worker that is not stopping), and only connections
// idle for 250 ms are closed; closing idle connections at SIGTERM would race
// a request already on its way and fail it.
// Test routes: /slow?ms=N answers later; /hang blocks the event loop (its
// watchdog pings stop with it); /stop-pinging stops only the pings.
'use strict';
const http = require('http');
const net = require('net');
const fs = require('fs');

const notifyFd = process.env.CLUSTERD_NOTIFY_FD === undefined ? null : Number(process.env.CLUSTERD_NOTIFY_FD);
const notify = (line) => { if (notifyFd !== null) fs.writeSync(notifyFd, line + '\n'); };
const who = `node worker ${process.env.CLUSTERD_WORKER_INDEX} pid ${process.pid}`;

let pinger = null;
let stopping = false;
const lastActive = new Map();  // socket -> ms of its last response; absent while a request is in flight
const server = http.createServer((req, res) => {
  lastActive.delete(req.socket);
  res.on('finish', () => lastActive.set(req.socket, Date.now()));
  if (stopping) res.setHeader('Connection', 'close');
  const url = new URL(req.url, 'http://x');
  res.setHeader('X-Served-By', `${process.env.CLUSTERD_WORKER_INDEX}/${process.pid}`);
  if (url.pathname === '/slow') {
    setTimeout(() => res.end(`slow answer from ${who}\n`), Number(url.searchParams.get('ms') || 200));
  } else if (url.pathname === '/hang') {
    for (;;) {}  // eslint-disable-line no-empty
  } else if (url.pathname === '/stop-pinging') {
    clearInterval(pinger);
    res.end('pings stopped\n');
  } else {
    res.end(`hello from ${who}\n`);
  }
});

server.on('connection', (socket) => {
  lastActive.set(socket, Date.now());
  socket.on('close', () => lastActive.delete(socket));
});

server.listen({ fd: 3 }, () => {
  console.log(`${who} listening on fd 3 (LISTEN_FDS=${process.env.LISTEN_FDS}, LISTEN_PID=${process.env.LISTEN_PID})`);
  notify('READY=1');
  notify(`STATUS=serving as ${who}`);
});

if (process.env.WATCHDOG_USEC) {
  const everyMs = Math.max(5, Number(process.env.WATCHDOG_USEC) / 2000);  // twice per interval, as sd_watchdog_enabled advises
  pinger = setInterval(() => notify('WATCHDOG=1'), everyMs);
}

process.on('SIGTERM', () => {
  console.log(`${who}: SIGTERM, closing the server`);
  notify('STOPPING=1');
  clearInterval(pinger);
  stopping = true;
  // Stop accepting; exit once the last connection is gone. Not server.close():
  // since Node 19 it also drops every idle keep-alive connection at once,
  // failing a request the client is sending on one right then.
  net.Server.prototype.close.call(server, () => process.exit(0));
  setInterval(() => {
    const now = Date.now();
    for (const [socket, at] of lastActive) if (now - at >= 250) socket.destroy();
  }, 50).unref();
});
