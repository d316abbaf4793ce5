/**
 * A seam into smtp-server's command parser (SMTPStream), without patching node_modules.
 *
 * Each SMTPConnection builds its parser in `_createParser()`: once in its constructor, and
 * again on STARTTLS (`upgrade()` retires the plaintext parser and pipes the TLS socket into a
 * new one). `onEveryParser` runs `adjust` on the parser the connection has now and on every
 * parser it creates later. Called from PromptGreetingServer.connect, right after smtp-server
 * built the connection and before any byte from the client reached the parser.
 */
import type { Writable } from 'node:stream';
import type { SMTPServer } from 'smtp-server';

export type Connection = SMTPServer['connections'] extends Set<infer C> ? C : never;
/** The parser as smtp-server's types give it (SMTPStream, a Writable). */
export type CommandParser = Exclude<Connection['_parser'], false>;

export function onEveryParser(connection: Connection, adjust: (parser: CommandParser & Writable) => void): void {
  if (connection._parser !== false) adjust(connection._parser);
  const createParser = connection._createParser;
  connection._createParser = function createAdjustedParser(this: Connection) {
    const parser = createParser.call(this);
    adjust(parser);
    return parser;
  };
}
