// Floor 1: the least a Node.js SMTP intake can do. node:net only, one command per line, no
// library, no policy, no log: the same dialogue as the relay, and the same durability (the
// message file and its folder fsynced before the 250, through the libuv pool).
import { createServer } from 'node:net';
import { open } from 'node:fs';
import { commitMessage } from './commit.mjs';

const [port, dir] = [Number(process.argv[2]), process.argv[3]];
open(dir, 'r', (error, folder) => {
  if (error) throw error;
  createServer((socket) => {
    socket.setNoDelay(true);
    let pending = '';
    let body = undefined;
    let tail = '';
    socket.write('220 floor ESMTP\r\n');
    const commit = (chunks) =>
      commitMessage(dir, folder, Buffer.concat(chunks), (commitError, number) => {
        if (commitError) return socket.destroy(commitError);
        socket.write(`250 2.0.0 Ok: queued as ${number}\r\n`);
      });
    socket.on('data', (data) => {
      if (body !== undefined) {
        body.push(data);
        // The end of data may come split over two reads: look at the last 5 bytes received.
        tail = (tail + data.subarray(-5).toString('latin1')).slice(-5);
        if (tail === '\r\n.\r\n') {
          const chunks = body;
          body = undefined;
          commit(chunks);
        }
        return;
      }
      pending += data.toString('latin1');
      let end;
      while ((end = pending.indexOf('\r\n')) !== -1) {
        const line = pending.slice(0, end);
        pending = pending.slice(end + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') socket.write('250-floor\r\n250-PIPELINING\r\n250 8BITMIME\r\n');
        else if (verb === 'DATA') {
          body = [];
          socket.write('354 End data with <CR><LF>.<CR><LF>\r\n');
        } else if (verb === 'QUIT') socket.end('221 2.0.0 Bye\r\n');
        else socket.write('250 2.1.0 Ok\r\n');
      }
    });
    socket.on('error', () => undefined);
  }).listen(port, '127.0.0.1');
});
// An orderly exit on SIGTERM, so that node --cpu-prof writes its profile.
process.once('SIGTERM', () => process.exit(0));
