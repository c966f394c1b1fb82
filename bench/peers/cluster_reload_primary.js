'use strict';
// Node's own `cluster` as a team would run exec_app.js with it: a primary
// forks --workers workers, forks a replacement when one dies, and on SIGHUP
// rolls the workers one at a time (fork the new one, wait until it listens,
// then SIGTERM the old one and wait for its exit). Prints "rolled" when a
// reload is done. PORT is the app's.
const cluster = require('node:cluster');
const path = require('node:path');

const workers = Number(process.argv[process.argv.indexOf('--workers') + 1] || 2);
cluster.setupPrimary({ exec: path.join(__dirname, 'exec_app.js') });

let stopping = false;
const retiring = new Set();
cluster.on('exit', (worker) => {
  if (stopping || retiring.delete(worker.id)) return;
  cluster.fork();
});

async function roll() {
  for (const old of Object.values(cluster.workers)) {
    const fresh = cluster.fork();
    await new Promise((resolve) => fresh.once('listening', resolve));
    retiring.add(old.id);
    const gone = new Promise((resolve) => old.once('exit', resolve));
    old.process.kill('SIGTERM');
    await gone;
  }
  console.log('rolled');
}

let rolling = Promise.resolve();
process.on('SIGHUP', () => { rolling = rolling.then(roll); });
process.on('SIGTERM', () => {
  stopping = true;
  for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
  cluster.disconnect(() => process.exit(0));
});
for (let i = 0; i < workers; i++) cluster.fork();
