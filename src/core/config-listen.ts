/** The `listen` section: where and how the relay accepts mail from legacy programs. */
import { z } from 'zod';
import { clientAddress, MEBIBYTE } from './config-fields.js';

export const listenSchema = z
  .strictObject({
    host: z
      .string()
      .default('127.0.0.1')
      .describe('Address to listen on. Keep 127.0.0.1 unless LAN devices must send; then also set allowClients.'),
    port: z.number().int().min(0).max(65535).default(2525).describe('SMTP port for the legacy programs (0 picks a free port, for tests).'),
    allowClients: z
      .array(clientAddress)
      .default([])
      .describe('Clients outside loopback that may connect. Loopback is always allowed; everything else is refused at connect.'),
    maxMessageBytes: z
      .number()
      .int()
      .positive()
      .default(35 * MEBIBYTE)
      .describe('Largest message accepted (advertised with SIZE, RFC 1870). Exchange Online accepts 35 MB by default.'),
    maxRecipients: z
      .number()
      .int()
      .positive()
      .default(500)
      .describe('Recipients per message; Exchange Online allows 500 by default.'),
    name: z.string().optional().describe('Host name in the greeting; defaults to the machine name.'),
    perClient: z
      .strictObject({
        maxConnections: z
          .number()
          .int()
          .positive()
          .default(20)
          .describe('Connections one client address may hold at once; more get 421 4.7.0 at connect.'),
        messagesPerMinute: z
          .number()
          .int()
          .positive()
          .default(120)
          .describe('Messages one client address may start in any 60 seconds; more get 451 4.7.1 at MAIL FROM.'),
        includeLoopback: z
          .boolean()
          .default(false)
          .describe(
            'Limit programs on this machine too. Off by default: the local program (e.g. Sage sending a batch of hundreds) is what the relay queues for.',
          ),
      })
      .prefault({})
      .describe('Limits per client address, so one runaway program cannot crowd out the others.'),
    tls: z
      .strictObject({
        starttls: z.boolean().default(true).describe('Offer STARTTLS (RFC 3207) on the SMTP port.'),
        implicitTlsPort: z
          .number()
          .int()
          .min(0)
          .max(65535)
          .optional()
          .describe('Also listen with implicit TLS on this port (RFC 8314, usually 465); off when absent.'),
        certFile: z.string().optional().describe('PEM certificate (chain); without it the relay makes a self-signed one in <dataDir>/tls/.'),
        keyFile: z.string().optional().describe('PEM private key for certFile.'),
        minVersion: z
          .enum(['TLSv1', 'TLSv1.1', 'TLSv1.2'])
          .default('TLSv1.2')
          .describe('Oldest TLS version clients may use; lower it only for old printers that cannot do TLS 1.2.'),
      })
      .refine((tls) => (tls.certFile === undefined) === (tls.keyFile === undefined), {
        message: 'give certFile and keyFile together',
        path: ['keyFile'],
      })
      .prefault({})
      .describe('TLS for local clients.'),
    auth: z
      .enum(['off', 'optional', 'required', 'accept-any'])
      .default('optional')
      .describe(
        'Local SMTP AUTH (PLAIN, LOGIN) with the users of `smtp-oauth-relay user add`: "optional" lets clients choose, "required" refuses MAIL without it, "accept-any" accepts any credentials for programs that insist on AUTH.',
      ),
    bareLineFeedClients: z
      .array(clientAddress)
      .default([])
      .describe(
        'Clients (old printers, scanners) allowed to end lines with a bare LF and DATA with "\\n.\\n". Everyone else, this machine included unless listed ("127.0.0.1"), must end DATA with CRLF.CRLF (RFC 5321 4.1.1.4; SMTP smuggling, docs/message-integrity.md).',
      ),
    connections: z
      .strictObject({
        loopback: z
          .number()
          .int()
          .positive()
          .default(100)
          .describe('Connections programs on this machine may hold at once, all together; LAN devices cannot take these slots.'),
        lan: z
          .number()
          .int()
          .positive()
          .default(50)
          .describe('Connections the allowClients devices may hold at once, all together; programs on this machine cannot take these slots.'),
        sessionSeconds: z
          .number()
          .positive()
          .default(3600)
          .describe('Longest a connection may stay open, however busy; then 421 4.4.2 and close (the client reconnects). Bounds clients that trickle bytes.'),
        dataSeconds: z
          .number()
          .positive()
          .default(600)
          .describe('Longest a message may take from DATA to its final dot; then 421 4.4.2, close, and nothing is kept (RFC 5321 4.5.3.2.6 allows 10 minutes).'),
      })
      .prefault({})
      .describe('Connection slots and deadlines, so that slow or many clients cannot lock others out.'),
    rewriteSender: z
      .array(
        z.strictObject({
          client: clientAddress,
          account: z.string().min(1).describe('Account whose mailbox becomes the sender.'),
        }),
      )
      .default([])
      .describe("Clients (devices that invent senders) whose envelope sender and From header become the account's mailbox; the original goes to Reply-To."),
  })
  .describe('Where the relay accepts mail from legacy programs.');
