/**
 * Reads a secret for `secret set` from stdin, never from the command line (argv is visible to
 * every user in the process list, and lands in shell history).
 * Piped: everything up to end of input, without the final line break.
 * At a terminal: one line typed without echo.
 */
import type { ReadStream } from 'node:tty';

const CTRL_C = '\u0003';
const CTRL_D = '\u0004';
const BACKSPACE = new Set(['\u007f', '\b']);

export class EmptySecretError extends Error {
  constructor() {
    super('no secret was given on stdin; pipe it in or type it at the prompt');
    this.name = 'EmptySecretError';
  }
}

export interface ReadSecretOptions {
  readonly input?: NodeJS.ReadableStream;
  /** Where the prompt goes at a terminal (stderr, so stdout stays clean for scripts). */
  readonly prompt?: { readonly text: string; readonly output: NodeJS.WritableStream };
}

export async function readSecret(options: ReadSecretOptions = {}): Promise<string> {
  const input = options.input ?? process.stdin;
  const tty = input as Partial<ReadStream>;
  const secret = tty.isTTY === true && typeof tty.setRawMode === 'function' ? await readTyped(tty as ReadStream, options.prompt) : await readPiped(input);
  if (secret === '') throw new EmptySecretError();
  return secret;
}

async function readPiped(input: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
  // Only the one line break that `echo` or a text file adds; a secret may end in spaces.
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

function readTyped(input: ReadStream, prompt: ReadSecretOptions['prompt']): Promise<string> {
  const output = prompt?.output ?? process.stderr;
  output.write(prompt?.text ?? 'Secret (not shown): ');
  return new Promise((resolve, reject) => {
    let typed = '';
    const finish = (error?: Error) => {
      input.setRawMode(false);
      input.pause();
      input.off('data', onData);
      output.write('\n');
      if (error === undefined) resolve(typed);
      else reject(error);
    };
    const onData = (chunk: Buffer | string) => {
      for (const char of chunk.toString()) {
        if (char === CTRL_C) return finish(new Error('cancelled'));
        if (char === '\r' || char === '\n' || char === CTRL_D) return finish();
        if (BACKSPACE.has(char)) typed = typed.slice(0, -1);
        else typed += char;
      }
    };
    input.setRawMode(true);
    input.resume();
    input.on('data', onData);
  });
}
