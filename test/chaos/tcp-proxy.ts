/**
 * A TCP proxy on loopback between the servers and Redis, to inject network
 * faults Redis itself cannot produce: here, a subscription that goes deaf
 * without its connection closing (what a half-open connection, a NAT or a
 * middlebox that lost its state does).
 */

import type { AddressInfo } from "node:net";
import { connect, createServer, type Server, type Socket } from "node:net";

interface Link {
  client: Socket;
  upstream: Socket;
  /** The client has sent a (S)SUBSCRIBE: it is a subscriber connection. */
  subscriber: boolean;
  /** Drop what Redis sends to the client. */
  deaf: boolean;
}

/** What the subscriber connections send to Redis is held back this long (0: passed on at once). */
interface Delay {
  ms: number;
}

export interface TcpProxy {
  port: number;
  url: string;
  /** Connections currently open through the proxy. */
  readonly connections: number;
  /**
   * From now on, silently drop everything Redis sends on the subscriber
   * connections open right now. Both ends keep their connection; Redis keeps
   * delivering and the client never hears. Later connections are not touched.
   */
  deafenSubscribers(): number;
  /**
   * From now on, hold back everything a subscriber connection sends to Redis
   * for `ms` (order kept), as a slow link to Redis would: its (S)SUBSCRIBEs
   * take effect that much later. 0 stops it.
   */
  delaySubscribers(ms: number): void;
  close(): Promise<void>;
}

/** Proxies to `target`; the proxy's `url` carries the target's credentials (a RedisServer's, when passed one). */
export async function startTcpProxy(target: { host?: string; port: number; username?: string; password?: string }): Promise<TcpProxy> {
  const links = new Set<Link>();
  const delay: Delay = { ms: 0 };
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host ?? "127.0.0.1");
    const link: Link = { client, upstream, subscriber: false, deaf: false };
    links.add(link);
    client.on("data", (chunk) => {
      if (!link.subscriber && /subscribe/i.test(chunk.toString("latin1"))) link.subscriber = true;
      // Equal delays fire in order, so the bytes reach Redis in the order they were sent.
      if (link.subscriber && delay.ms > 0) setTimeout(() => upstream.write(chunk), delay.ms);
      else upstream.write(chunk);
    });
    upstream.on("data", (chunk) => {
      if (!link.deaf) client.write(chunk);
    });
    const drop = () => {
      links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    client.on("close", drop);
    upstream.on("close", drop);
    client.on("error", drop);
    upstream.on("error", drop);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: target.username ? `redis://${target.username}:${target.password ?? ""}@127.0.0.1:${port}` : `redis://127.0.0.1:${port}`,
    get connections() {
      return links.size;
    },
    deafenSubscribers() {
      let count = 0;
      for (const link of links) {
        if (link.subscriber) {
          link.deaf = true;
          count++;
        }
      }
      return count;
    },
    delaySubscribers(ms) {
      delay.ms = ms;
    },
    close: () =>
      new Promise((resolve) => {
        for (const link of links) {
          link.client.destroy();
          link.upstream.destroy();
        }
        server.close(() => resolve());
      }),
  };
}
