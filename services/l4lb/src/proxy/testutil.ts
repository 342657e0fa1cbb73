/** Loopback servers and clients for the userspace proxy tests. */
import { spawn } from "node:child_process";
import * as dgram from "node:dgram";
import * as net from "node:net";
import { createLogger } from "@dcnet/core";

export const silent = createLogger({ service: "l4lb-proxy-test", level: "silent" });

/** A VIP address in 127.11.0.0/16 of this process (so parallel runs do not collide); n in 1..250. */
export const vipAddress = (n: number): string => `127.11.${(process.pid % 250) + 1}.${n}`;

/** A port that is free on `host` now. */
export async function freePort(host: string, type: "tcp" | "udp" = "tcp"): Promise<number> {
  if (type === "udp") {
    const s = dgram.createSocket("udp4");
    await new Promise<void>((resolve) => s.bind({ address: host, port: 0 }, resolve));
    const port = s.address().port;
    await new Promise<void>((resolve) => s.close(() => resolve()));
    return port;
  }
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen({ host, port: 0 }, resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

export interface Backend {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** Connections accepted. */
  accepted: number;
  close(): Promise<void>;
}

/**
 * A TCP backend: every chunk is answered at once with `<name>:<chunk>`; when the client half-closes,
 * it answers `<name>:bye` and half-closes too (so a reply after the client's FIN proves half-close works).
 */
export async function tcpBackend(name: string, host = "127.0.0.1"): Promise<Backend> {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    b.accepted++;
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
    s.on("data", (d) => s.write(`${name}:${d.toString()}`));
    s.on("end", () => s.end(`${name}:bye`));
  });
  await new Promise<void>((resolve) => srv.listen({ host, port: 0 }, resolve));
  const b: Backend = {
    name,
    host,
    port: (srv.address() as net.AddressInfo).port,
    accepted: 0,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    },
  };
  return b;
}

/** A UDP backend answering each datagram with `<name>:<datagram>` (to its sender). */
export async function udpBackend(name: string, host = "127.0.0.1"): Promise<Backend> {
  const sock = dgram.createSocket("udp4");
  const peers = new Set<string>();
  sock.on("message", (msg, rinfo) => {
    const k = `${rinfo.address}:${rinfo.port}`;
    if (!peers.has(k)) {
      peers.add(k);
      b.accepted++;
    }
    sock.send(`${name}:${msg.toString()}`, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => sock.bind({ address: host, port: 0 }, resolve));
  const b: Backend = {
    name,
    host,
    port: sock.address().port,
    accepted: 0,
    close: () => new Promise((resolve) => sock.close(() => resolve())),
  };
  return b;
}

/** Connects, sends `msg`, half-closes and returns everything received until the close (or the error code). */
export function exchange(host: string, port: number, msg: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, allowHalfOpen: true });
    let got = "";
    const timer = setTimeout(() => {
      s.destroy();
      resolve(`TIMEOUT ${got}`);
    }, timeoutMs);
    s.on("connect", () => s.end(msg));
    s.on("data", (d) => (got += d.toString()));
    s.on("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(`ERROR ${err.code ?? err.message}`);
    });
    s.on("close", () => {
      clearTimeout(timer);
      resolve(got);
    });
  });
}

/** An open connection: `say(x)` writes and resolves with the next chunk received. */
export interface Held {
  say(msg: string): Promise<string>;
  close(): void;
}

export async function hold(host: string, port: number): Promise<Held> {
  const s = net.connect({ host, port });
  s.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    s.once("connect", resolve);
    s.once("error", reject);
  });
  return {
    say: (msg) =>
      new Promise((resolve, reject) => {
        const done = (): void => {
          clearTimeout(timer);
          s.off("data", onData);
          s.off("close", onClose);
        };
        const onData = (d: Buffer): void => {
          done();
          resolve(d.toString());
        };
        const onClose = (): void => {
          done();
          reject(new Error(`closed before an answer to ${msg}`));
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no answer to ${msg}`));
        }, 5000);
        s.on("data", onData);
        s.on("close", onClose);
        if (s.destroyed) onClose();
        else s.write(msg);
      }),
    close: () => s.destroy(),
  };
}

/** Whether a TCP connect to host:port is refused. */
export function refused(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.on("connect", () => {
      s.destroy();
      resolve(false);
    });
    s.on("error", (err: NodeJS.ErrnoException) => resolve(err.code === "ECONNREFUSED"));
  });
}

/**
 * A backend that never answers a SYN: a listener (another Node process, backlog 1: Node takes 0
 * for its default) that never accepts — its only thread blocks right after listening, so libuv
 * never calls accept() — its queue filled first. Connects to it hang until the client's timeout.
 */
export async function blackhole(): Promise<{ port: number; close(): void }> {
  const child = spawn(process.execPath, [
    "-e",
    // stdout to a pipe is synchronous on Linux: the port is out before the thread blocks.
    `const s = require("node:net").createServer().listen({ host: "127.0.0.1", port: 0, backlog: 1 }, () => {
      console.log(s.address().port);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000);
    });`,
  ]);
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once("data", (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`the blackhole listener exited (${code})`)));
  });
  const fillers: net.Socket[] = [];
  for (let i = 0; i < 4; i++) {
    const s = net.connect({ host: "127.0.0.1", port });
    s.on("error", () => {});
    fillers.push(s);
  }
  await new Promise((r) => setTimeout(r, 100));
  return {
    port,
    close: () => {
      for (const s of fillers) s.destroy();
      child.kill("SIGKILL");
    },
  };
}
