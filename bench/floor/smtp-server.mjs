// Floor 2: the library the relay receives with (smtp-server), with only the relay's prompt
// greeting (without it smtp-server waits 100 ms before each greeting; src/inbound/prompt-greeting.ts,
// from the build): no policy, no header checks, no log; the message file and its folder fsynced
// before the 250, as in floor 1.
import { PromptGreetingServer } from '../../dist/inbound/prompt-greeting.js';
import { open } from 'node:fs';
import { commitMessage } from './commit.mjs';

const [port, dir] = [Number(process.argv[2]), process.argv[3]];
open(dir, 'r', (error, folder) => {
  if (error) throw error;
  const server = new PromptGreetingServer({
    disabledCommands: ['STARTTLS', 'AUTH'],
    authOptional: true,
    logger: false,
    // As the relay: no reverse DNS lookup of 127.0.0.1 (smtp-server's default does one per connection).
    disableReverseLookup: true,
    onData(stream, _session, callback) {
      const chunks = [];
      stream.on('data', (chunk) => chunks.push(chunk));
      stream.on('end', () => commitMessage(dir, folder, Buffer.concat(chunks), (error, number) => (error ? callback(error) : callback(null, `Ok: queued as ${number}`))));
    },
  }, { warn: () => undefined });
  server.listen(port, '127.0.0.1');
});
// An orderly exit on SIGTERM, so that node --cpu-prof writes its profile.
process.once('SIGTERM', () => process.exit(0));
