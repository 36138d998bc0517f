/**
 * A minimal DNS server on loopback for one test: it answers A queries for
 * one name with a list of addresses, as Docker's embedded DNS answers a
 * Compose service name with its replicas' addresses. Just enough of RFC 1035
 * for HAProxy's resolvers: one question, A answers, NODATA for other types of
 * that name, NXDOMAIN for other names.
 */
import { createSocket } from "node:dgram";
import type { AddressInfo } from "node:net";

export interface DnsResponder {
  /** `127.0.0.1:<port>`, for a resolver's nameserver line. */
  address: string;
  /** Replaces the addresses the name resolves to (a scaled service). */
  setAddresses(addresses: string[]): void;
  close(): Promise<void>;
}

const TYPE_A = 1;
const CLASS_IN = 1;

export async function startDnsResponder(name: string, initial: string[]): Promise<DnsResponder> {
  let addresses = [...initial];
  const socket = createSocket("udp4");
  socket.on("message", (query, peer) => {
    const answer = respond(query);
    if (answer) socket.send(answer, peer.port, peer.address);
  });

  function respond(query: Buffer): Buffer | null {
    if (query.length < 12 || query.readUInt16BE(4) !== 1) return null;
    // The question: labels, then QTYPE and QCLASS.
    let offset = 12;
    const labels: string[] = [];
    while (offset < query.length && query[offset] !== 0) {
      const length = query[offset]!;
      labels.push(query.subarray(offset + 1, offset + 1 + length).toString("ascii"));
      offset += 1 + length;
    }
    offset += 1;
    if (offset + 4 > query.length) return null;
    const type = query.readUInt16BE(offset);
    const question = query.subarray(12, offset + 4);
    const known = labels.join(".").toLowerCase() === name.toLowerCase();
    const records = known && type === TYPE_A ? addresses : [];

    const header = Buffer.alloc(12);
    header.writeUInt16BE(query.readUInt16BE(0), 0); // same id
    const recursionDesired = query.readUInt16BE(2) & 0x0100;
    // QR, AA, RD as asked, RA; RCODE 3 (NXDOMAIN) for names we do not know.
    header.writeUInt16BE(0x8000 | 0x0400 | recursionDesired | 0x0080 | (known ? 0 : 3), 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(records.length, 6);
    const answers = records.map((address) => {
      const record = Buffer.alloc(16);
      record.writeUInt16BE(0xc00c, 0); // pointer to the name in the question
      record.writeUInt16BE(TYPE_A, 2);
      record.writeUInt16BE(CLASS_IN, 4);
      record.writeUInt32BE(5, 6); // TTL, seconds
      record.writeUInt16BE(4, 10);
      for (const [i, octet] of address.split(".").entries()) record.writeUInt8(Number(octet), 12 + i);
      return record;
    });
    return Buffer.concat([header, question, ...answers]);
  }

  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  return {
    address: `127.0.0.1:${(socket.address() as AddressInfo).port}`,
    setAddresses(next) {
      addresses = [...next];
    },
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}
