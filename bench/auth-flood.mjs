// One AUTH flood process (bench/flood.ts starts six): for DURATION_MS, connect to
// 127.0.0.1:PORT, EHLO, then AUTH PLAIN with a random wrong password again and again on the
// same connection; a reply slower than PATIENCE_MS (a throttled one) makes it hang up and
// connect again, as an impatient password guesser would. Prints its counts as JSON at the end.
// Plain JavaScript so that no compiler runs in the flood processes.
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';

const [port, durationMs, user] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4] ?? 'sage'];
const PATIENCE_MS = 1000;
const until = Date.now() + durationMs;
const counts = { connections: 0, attempts: 0, replies: {} };

function session() {
  return new Promise((resolve) => {
    counts.connections += 1;
    const socket = connect({ port, host: '127.0.0.1' });
    socket.setNoDelay(true);
    let buffer = '';
    let state = 'greeting';
    let timer;
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    };
    const attempt = () => {
      if (Date.now() >= until) return done();
      counts.attempts += 1;
      const credentials = Buffer.from(`\0${user}\0${randomBytes(9).toString('base64')}`).toString('base64');
      socket.write(`AUTH PLAIN ${credentials}\r\n`);
      timer = setTimeout(done, PATIENCE_MS);
    };
    socket.on('error', done);
    socket.on('close', done);
    socket.on('data', (data) => {
      buffer += data.toString('latin1');
      let end;
      while ((end = buffer.indexOf('\r\n')) !== -1) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (line.charAt(3) === '-') continue;
        const code = line.slice(0, 3);
        if (state === 'greeting') {
          state = 'ehlo';
          socket.write('EHLO flood.local\r\n');
        } else if (state === 'ehlo') {
          state = 'auth';
          attempt();
        } else {
          clearTimeout(timer);
          counts.replies[code] = (counts.replies[code] ?? 0) + 1;
          if (code === '421') return done();
          attempt();
        }
      }
    });
  });
}

while (Date.now() < until) await session();
process.stdout.write(`${JSON.stringify(counts)}\n`);
