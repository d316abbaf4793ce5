// The durability both floors give a message before its 250, as the relay does: the message file
// is created, written, and fsynced together with its folder, all on libuv's pool.
import { open, write, fsync, close } from 'node:fs';
import { join } from 'node:path';

let next = 0;

/** Calls back with the message's number once it is durable, or with the error. */
export function commitMessage(dir, folder, data, callback) {
  const number = (next += 1);
  open(join(dir, `m${number}`), 'wx', (openError, fd) => {
    if (openError) return callback(openError);
    write(fd, data, (writeError) => {
      if (writeError) return callback(writeError);
      let left = 2;
      const done = () => (left -= 1) === 0 && close(fd, () => callback(null, number));
      fsync(fd, done);
      fsync(folder, done);
    });
  });
}
