/**
 * A hand-driven Engine.IO v4 / Socket.IO v5 client over a raw WebSocket, for
 * sending frames no well-behaved client library would produce.
 */
import WebSocket from "ws";

export interface RawSocket {
  ws: WebSocket;
  /** Sends one WebSocket frame as is (a Buffer goes out as a binary frame unless `text`). */
  send(frame: string | Buffer, options?: { text?: boolean }): void;
  /** Resolves with the next text frame that starts with `prefix` (Engine.IO pings are answered). */
  next(prefix: string, timeoutMs?: number): Promise<string>;
  /** Resolves with the close code once the server closes the connection. */
  closed: Promise<number>;
  close(): void;
}

/**
 * Opens a WebSocket transport and, unless `auth` is null, connects to the
 * main namespace with it; each step may take `timeoutMs`.
 */
export async function openRaw(url: string, auth: Record<string, unknown> | null = {}, timeoutMs = 5_000): Promise<RawSocket> {
  const ws = new WebSocket(`${url.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket`);
  const frames: string[] = [];
  const waiters: { prefix: string; resolve: (frame: string) => void }[] = [];
  const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
  ws.on("error", () => {});
  ws.on("message", (data, isBinary) => {
    if (isBinary) return;
    const frame = data.toString();
    if (frame === "2") return void ws.send("3");
    const waiter = waiters.find((candidate) => frame.startsWith(candidate.prefix));
    if (waiter) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(frame);
    } else frames.push(frame);
  });
  const socket: RawSocket = {
    ws,
    send(frame, options = {}) {
      ws.send(frame, { binary: typeof frame !== "string" && !options.text });
    },
    next(prefix, timeoutMs = 5_000) {
      const index = frames.findIndex((frame) => frame.startsWith(prefix));
      if (index >= 0) return Promise.resolve(frames.splice(index, 1)[0]!);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no frame starting with ${prefix} within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({
          prefix,
          resolve: (frame) => {
            clearTimeout(timer);
            resolve(frame);
          },
        });
      });
    },
    closed,
    close: () => ws.terminate(),
  };
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  await socket.next("0{", timeoutMs);
  if (auth !== null) {
    socket.send(`40${JSON.stringify(auth)}`);
    await socket.next("40{", timeoutMs);
  }
  return socket;
}
