/** Field types the configuration's sections share (config.ts assembles the sections). */
import { z } from 'zod';

export const MEBIBYTE = 1024 * 1024;

/** Exchange Online: 3 concurrent SMTP AUTH connections per mailbox (docs/microsoft-365.md, "Limits"). */
export const EXCHANGE_MAX_CONNECTIONS = 3;

export const port = z.number().int().min(1).max(65535);
export const emailAddress = z.email({ message: 'expected an e-mail address such as sage@contoso.com' });
export const clientAddress = z
  .union([z.ipv4(), z.ipv6(), z.cidrv4(), z.cidrv6()])
  .describe('An IP address or CIDR range, e.g. "192.168.1.20" or "192.168.1.0/24".');
