'use strict';
// One Node.js HTTP app, unchanged, under three supervisors (bench/exec_peers.py):
//   clusterd -- node exec_app.js      the socket is fd 3 (LISTEN_FDS), READY=1 on CLUSTERD_NOTIFY_FD
//   pm2 start exec_app.js -i N        cluster mode: listen(PORT) through Node's cluster
//   node cluster_reload_primary.js    Node's own cluster: listen(PORT) likewise
// It stops the same careful way under all three, so what differs is the
// supervisor: on SIGTERM or SIGINT (PM2's) it stops accepting, answers
// "Connection: close" from then on, closes only connections idle for 250 ms
// and exits once none is left. Not server.close(): since Node 19 that drops
// every idle keep-alive connection at once, failing a request a client is
// sending on one right then, under any supervisor (measured: ~45 per reload
// for all three here), which would hide what the supervisors do.
const http = require('http');
const net = require('net');
const fs = require('fs');

const notifyFd = process.env.CLUSTERD_NOTIFY_FD === undefined ? null : Number(process.env.CLUSTERD_NOTIFY_FD);
const notify = (line) => { if (notifyFd !== null) fs.writeSync(notifyFd, line + '\n'); };

let stopping = false;
const lastActive = new Map();  // socket -> ms of its last response; absent while a request is in flight
const server = http.createServer((req, res) => {
  lastActive.delete(req.socket);
  res.on('finish', () => lastActive.set(req.socket, Date.now()));
  if (stopping) res.setHeader('Connection', 'close');
  res.setHeader('X-Pid', String(process.pid));
  res.end('hello\n');
});
server.keepAliveTimeout = 60000;
server.on('connection', (socket) => {
  lastActive.set(socket, Date.now());
  socket.on('close', () => lastActive.delete(socket));
});

const onListening = () => {
  notify('READY=1');
  if (process.send) process.send('ready');  // PM2's wait_ready, harmless otherwise
};
if (process.env.LISTEN_FDS) server.listen({ fd: 3 }, onListening);
else server.listen(Number(process.env.PORT || 18800), '127.0.0.1', onListening);

const stop = () => {
  if (stopping) return;
  stopping = true;
  notify('STOPPING=1');
  net.Server.prototype.close.call(server, () => process.exit(0));
  setInterval(() => {
    const now = Date.now();
    for (const [socket, at] of lastActive) if (now - at > 250) socket.destroy();
  }, 50).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
