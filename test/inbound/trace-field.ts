/**
 * The relay puts one Received field in front of every message it takes (RFC 5321 4.4,
 * src/inbound/received-header.ts). Tests that compare what arrived with what the client sent
 * take it off first, and fail if it is not there.
 */
const RECEIVED_IN_FRONT = /^Received: [^\r\n]*(?:\r\n[ \t][^\r\n]*)*\r\n/;

export function withoutReceived(message: Buffer): Buffer {
  const match = RECEIVED_IN_FRONT.exec(message.toString('latin1'));
  if (match === null) throw new Error(`no Received field in front of the message: ${JSON.stringify(message.subarray(0, 80).toString('latin1'))}`);
  return message.subarray(match[0].length);
}

/** The Received field in front of the message, unfolded. */
export function receivedField(message: Buffer): string {
  const match = RECEIVED_IN_FRONT.exec(message.toString('latin1'));
  if (match === null) throw new Error('no Received field in front of the message');
  return match[0].replace(/\r\n(?=[ \t])/g, '').replace(/\r\n$/, '');
}
