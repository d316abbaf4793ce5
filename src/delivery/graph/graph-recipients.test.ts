import { describe, expect, it } from 'vitest';
import { planRecipients } from './graph-recipients.js';
import { recipientsInHeader, withRecipients } from './mime-recipients.js';

const headers = {
  to: [{ address: 'Customer@fabrikam.example', name: 'Customer' }],
  cc: [{ address: 'accounts@fabrikam.example' }],
  bcc: [],
};

describe('recipients for Graph, which has no envelope', () => {
  it('keeps the headers when they name exactly the pending envelope', () => {
    const plan = planRecipients(headers, ['customer@fabrikam.example', 'accounts@fabrikam.example']);
    expect(plan.changed).toBe(false);
    expect(plan.to).toEqual(headers.to);
  });

  it('puts envelope-only recipients (a Bcc stripped by the client) in Bcc', () => {
    const plan = planRecipients(headers, ['customer@fabrikam.example', 'accounts@fabrikam.example', 'archive@contoso.example']);
    expect(plan.changed).toBe(true);
    expect(plan.bcc).toEqual([{ address: 'archive@contoso.example' }]);
  });

  it('leaves out header recipients that are not pending (already delivered), so nobody gets it twice', () => {
    const plan = planRecipients(headers, ['accounts@fabrikam.example']);
    expect(plan).toMatchObject({ to: [], cc: [{ address: 'accounts@fabrikam.example' }], bcc: [], changed: true });
  });
});

describe('To/Cc/Bcc in a MIME header block', () => {
  const message = Buffer.from(
    'From: a@contoso.example\r\nTo: "Customer, Ltd" <customer@fabrikam.example>,\r\n =?UTF-8?Q?J=C3=BCrgen?= <j@fabrikam.example>\r\nSubject: x\r\nBcc: hidden@contoso.example\r\n\r\nTo: not a header\r\n',
    'latin1',
  );

  it('reads folded fields with quoted and encoded names', () => {
    const found = recipientsInHeader(message);
    expect(found.to.map((entry) => entry.address)).toEqual(['customer@fabrikam.example', 'j@fabrikam.example']);
    expect(found.to[0]?.name).toBe('Customer, Ltd');
    expect(found.bcc).toEqual([{ address: 'hidden@contoso.example' }]);
  });

  it('replaces only the recipient fields; the rest of the message stays byte for byte', () => {
    const rewritten = withRecipients(message, { to: [{ address: 'customer@fabrikam.example', name: 'Customer, Ltd' }], cc: [], bcc: [{ address: 'archive@contoso.example' }] });
    const text = rewritten.toString('latin1');
    expect(text).toMatch(/^To: "Customer, Ltd" <customer@fabrikam\.example>\r\nBcc: archive@contoso\.example\r\nFrom: a@contoso\.example\r\nSubject: x\r\n\r\nTo: not a header\r\n$/);
    expect(recipientsInHeader(rewritten).to.map((entry) => entry.address)).toEqual(['customer@fabrikam.example']);
  });
});
