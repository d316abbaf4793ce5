/**
 * The /proc reader the "nothing listens beyond loopback" test relies on: if it misread an
 * address, that test could pass with the relay open to the network.
 */
import { describe, expect, it } from 'vitest';
import { isLoopback, parseInetTable, parseUnixTable } from './listening-sockets.js';

const TCP_HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
const TCP6_HEADER = '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';

describe('parseInetTable', () => {
  it('reads IPv4 listening sockets, skipping established ones', () => {
    const table = [
      TCP_HEADER,
      '   0: 0100007F:09C5 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4711 1 0000000000000000 100 0 0 10 0',
      '   1: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1657 1 0000000000000000 100 0 0 10 0',
      '   2: 0100007F:890A 0100007F:0050 01 00000000:00000000 03:00000707 00000000     0        0 4712 3 0000000000000000',
      '   3: 0132A8C0:0019 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4713 1 0000000000000000 100 0 0 10 0',
    ].join('\n');

    expect(parseInetTable('tcp', table)).toEqual([
      { protocol: 'tcp', address: '127.0.0.1', port: 2501, inode: '4711' },
      { protocol: 'tcp', address: '0.0.0.0', port: 2024, inode: '1657' },
      { protocol: 'tcp', address: '192.168.50.1', port: 25, inode: '4713' },
    ]);
  });

  it('reads IPv6 addresses word by word in host byte order', () => {
    const table = [
      TCP6_HEADER,
      '   0: 00000000000000000000000001000000:09C5 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5001 1 0000000000000000 100 0 0 10 0',
      '   1: 00000000000000000000000000000000:24F9 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5002 1 0000000000000000 100 0 0 10 0',
      '   2: 0000000000000000FFFF00000100007F:0019 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5003 1 0000000000000000 100 0 0 10 0',
      '   3: B80D0120000000000000000001000000:0019 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5004 1 0000000000000000 100 0 0 10 0',
    ].join('\n');

    expect(parseInetTable('tcp6', table).map(({ address, port }) => `${address} ${port}`)).toEqual([
      '::1 2501',
      ':: 9465',
      '::ffff:7f00:1 25',
      '2001:db8::1 25',
    ]);
  });

  it('counts only unconnected UDP sockets as listening', () => {
    const table = [
      TCP_HEADER,
      '  10: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 6001 2 0000000000000000 0',
      '  11: 0100007F:C350 3500007F:0035 01 00000000:00000000 00:00000000 00000000     0        0 6002 2 0000000000000000 0',
    ].join('\n');

    expect(parseInetTable('udp', table)).toEqual([{ protocol: 'udp', address: '0.0.0.0', port: 5353, inode: '6001' }]);
  });
});

describe('parseUnixTable', () => {
  it('keeps sockets in listen() state with their path', () => {
    const table = [
      'Num       RefCount Protocol Flags    Type St Inode Path',
      '0000000000000000: 00000002 00000000 00010000 0001 01 7001 /tmp/relay data/relay.sock',
      '0000000000000000: 00000003 00000000 00000000 0001 03 7002 /tmp/relay data/relay.sock',
      '0000000000000000: 00000003 00000000 00000000 0001 03 7003',
    ].join('\n');

    expect(parseUnixTable(table)).toEqual([{ path: '/tmp/relay data/relay.sock', inode: '7001' }]);
  });
});

describe('isLoopback', () => {
  it.each(['127.0.0.1', '127.8.9.10', '::1', '::ffff:7f00:1'])('%s is loopback', (address) => {
    expect(isLoopback(address)).toBe(true);
  });

  it.each(['0.0.0.0', '::', '192.168.1.20', '::ffff:c0a8:114', '2001:db8::1'])('%s is not loopback', (address) => {
    expect(isLoopback(address)).toBe(false);
  });
});
