/**
 * What a process really listens on, read from Linux's /proc, not from its configuration: the
 * socket inodes the process holds (/proc/<pid>/fd symlinks "socket:[inode]") matched against
 * the tables of its network namespace (/proc/<pid>/net/tcp, tcp6, udp, udp6, unix; proc(5)).
 * Node-only, no `ss` or `netstat` needed.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import { BlockList } from 'node:net';

export interface InetSocket {
  readonly protocol: 'tcp' | 'tcp6' | 'udp' | 'udp6';
  /** Printable address, e.g. "127.0.0.1", "::1", "0.0.0.0", "::". */
  readonly address: string;
  readonly port: number;
  readonly inode: string;
}

export interface UnixSocket {
  readonly path: string;
  readonly inode: string;
}

/** include/net/tcp_states.h: TCP_LISTEN is 10; an unconnected UDP socket shows TCP_CLOSE (7). */
const TCP_LISTEN = '0A';
const UDP_UNCONNECTED = '07';
/** include/linux/net.h: __SO_ACCEPTCON, set on a Unix socket that listen()ed. */
const SO_ACCEPTCON = 0x10000;

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');
// RFC 4291 2.5.5.2: an IPv4-mapped loopback address on a dual-stack socket.
loopback.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

export function isLoopback(address: string): boolean {
  return loopback.check(address, address.includes(':') ? 'ipv6' : 'ipv4');
}

/** The inodes of the sockets the process holds open. */
export async function socketInodes(pid: number): Promise<Set<string>> {
  const inodes = new Set<string>();
  const fds = await readdir(`/proc/${pid}/fd`);
  for (const fd of fds) {
    // A descriptor can close between readdir and readlink.
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode !== undefined) inodes.add(inode);
  }
  return inodes;
}

/** TCP sockets in LISTEN and unconnected UDP sockets that belong to the process. */
export async function listeningInetSockets(pid: number): Promise<InetSocket[]> {
  const inodes = await socketInodes(pid);
  const sockets: InetSocket[] = [];
  for (const protocol of ['tcp', 'tcp6', 'udp', 'udp6'] as const) {
    const table = await readFile(`/proc/${pid}/net/${protocol}`, 'utf8').catch(() => '');
    for (const socket of parseInetTable(protocol, table)) if (inodes.has(socket.inode)) sockets.push(socket);
  }
  return sockets;
}

/** Unix sockets in listen() state that belong to the process. */
export async function listeningUnixSockets(pid: number): Promise<UnixSocket[]> {
  const inodes = await socketInodes(pid);
  const table = await readFile(`/proc/${pid}/net/unix`, 'utf8');
  return parseUnixTable(table).filter((socket) => inodes.has(socket.inode));
}

/**
 * Parses /proc/net/{tcp,tcp6,udp,udp6}: "sl local_address rem_address st ... inode", addresses
 * in hex as the kernel stores them (each 32-bit word in host byte order, little-endian here).
 */
export function parseInetTable(protocol: InetSocket['protocol'], table: string): InetSocket[] {
  const wanted = protocol.startsWith('tcp') ? TCP_LISTEN : UDP_UNCONNECTED;
  const sockets: InetSocket[] = [];
  for (const line of table.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    const [local, remote, state, inode] = [fields[1], fields[2], fields[3], fields[9]];
    if (local === undefined || remote === undefined || state !== wanted || inode === undefined) continue;
    // A UDP socket with a peer (e.g. a DNS query in flight) is not listening.
    if (wanted === UDP_UNCONNECTED && !/^0+:0+$/.test(remote)) continue;
    const [hexAddress = '', hexPort = '0'] = local.split(':');
    sockets.push({ protocol, address: decodeAddress(hexAddress), port: parseInt(hexPort, 16), inode });
  }
  return sockets;
}

/** Parses /proc/net/unix: "Num RefCount Protocol Flags Type St Inode Path". */
export function parseUnixTable(table: string): UnixSocket[] {
  const sockets: UnixSocket[] = [];
  for (const line of table.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    const [flags, inode, path] = [fields[3], fields[6], fields.slice(7).join(' ')];
    if (flags === undefined || inode === undefined) continue;
    if ((parseInt(flags, 16) & SO_ACCEPTCON) === 0) continue;
    sockets.push({ path, inode });
  }
  return sockets;
}

function decodeAddress(hex: string): string {
  const words = hex.match(/.{8}/g) ?? [];
  // Each 32-bit word is stored in host order: reverse its bytes to get network order.
  const bytes = Buffer.from(words.map((word) => word.match(/../g)!.reverse().join('')).join(''), 'hex');
  if (bytes.length === 4) return [...bytes].join('.');
  const groups = (bytes.toString('hex').match(/.{4}/g) ?? []).join(':');
  // The URL parser prints an IPv6 address in its canonical short form (RFC 5952).
  return new URL(`http://[${groups}]/`).hostname.slice(1, -1);
}
