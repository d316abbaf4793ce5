/**
 * Graph has no SMTP envelope: it sends to the message's To, Cc and Bcc. The relay owes delivery
 * to the envelope's pending recipients (RCPT TO, minus those already delivered), so the
 * recipients Graph is given are exactly those: header To/Cc addresses that are pending stay where
 * they are (with their names), pending addresses in neither go to Bcc (as a client's Bcc or a
 * list expansion would), and header addresses that are not pending are left out (docs/graph.md,
 * "What changes for you").
 */
export interface NamedAddress {
  readonly address: string;
  readonly name?: string | undefined;
}

export interface HeaderRecipients {
  readonly to: readonly NamedAddress[];
  readonly cc: readonly NamedAddress[];
  readonly bcc: readonly NamedAddress[];
}

export interface RecipientPlan extends HeaderRecipients {
  /** False when the message's own headers already name exactly these recipients. */
  readonly changed: boolean;
}

export function planRecipients(headers: HeaderRecipients, pending: readonly string[]): RecipientPlan {
  const wanted = new Map(pending.map((address) => [address.toLowerCase(), address]));
  const used = new Set<string>();
  const keep = (list: readonly NamedAddress[]): NamedAddress[] =>
    list.filter((entry) => {
      const key = entry.address.toLowerCase();
      if (!wanted.has(key) || used.has(key)) return false;
      used.add(key);
      return true;
    });
  const to = keep(headers.to);
  const cc = keep(headers.cc);
  const named = new Map(headers.bcc.map((entry) => [entry.address.toLowerCase(), entry]));
  const bcc = [...wanted].filter(([key]) => !used.has(key)).map(([key, address]) => named.get(key) ?? { address });
  const same = (a: readonly NamedAddress[], b: readonly NamedAddress[]) =>
    a.length === b.length && a.every((entry, index) => entry.address.toLowerCase() === b[index]?.address.toLowerCase());
  return { to, cc, bcc, changed: !same(to, headers.to) || !same(cc, headers.cc) || !same(bcc, headers.bcc) };
}
