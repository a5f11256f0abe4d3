/**
 * A TCP proxy on 127.0.0.1 in front of one address (the API server), to cut a
 * client off it mid-test in two ways: `close()` shuts the listener and every
 * forwarded connection (requests fail at once: refused or reset), and
 * `partition()` keeps every connection open but forwards nothing more in
 * either direction and accepts new connections only to ignore them (requests
 * hang, as behind a network partition, until the client gives up).
 *
 * @module
 */

/** A forwarding proxy; see the module doc. */
export class TcpProxy {
  /** The port it listens on. */
  readonly port: number;
  #listener: Deno.TcpListener;
  #target: { hostname: string; port: number };
  #conns = new Set<Deno.TcpConn>();
  #partitioned = false;
  #accepting: Promise<void>;

  private constructor(listener: Deno.TcpListener, target: { hostname: string; port: number }) {
    this.#listener = listener;
    this.#target = target;
    this.port = listener.addr.port;
    this.#accepting = this.#accept();
  }

  /** Starts forwarding a free port of 127.0.0.1 to `target`. */
  static start(target: { hostname: string; port: number }): TcpProxy {
    return new TcpProxy(Deno.listen({ hostname: "127.0.0.1", port: 0 }), target);
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        this.#conns.add(conn);
        this.#forward(conn).finally(() => this.#conns.delete(conn));
      }
    } catch {
      // Closed.
    }
  }

  async #forward(conn: Deno.TcpConn): Promise<void> {
    if (this.#partitioned) return await this.#swallow(conn);
    let upstream: Deno.TcpConn;
    try {
      upstream = await Deno.connect(this.#target);
    } catch {
      conn.close();
      return;
    }
    this.#conns.add(upstream);
    await Promise.allSettled([this.#pump(conn, upstream), this.#pump(upstream, conn)]);
    for (const c of [conn, upstream]) {
      this.#conns.delete(c);
      try {
        c.close();
      } catch {
        // Already closed.
      }
    }
  }

  /** Copies `from` to `to` until either ends; once partitioned, reads and drops. */
  async #pump(from: Deno.TcpConn, to: Deno.TcpConn): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await from.read(buffer);
      if (n === null) return;
      if (this.#partitioned) continue;
      for (let written = 0; written < n;) written += await to.write(buffer.subarray(written, n));
    }
  }

  async #swallow(conn: Deno.TcpConn): Promise<void> {
    const buffer = new Uint8Array(16 * 1024);
    try {
      while (await conn.read(buffer) !== null) {
        // Dropped.
      }
    } catch {
      // Closed.
    }
  }

  /** From now on nothing gets through, and nothing is closed. */
  partition(): void {
    this.#partitioned = true;
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    try {
      this.#listener.close();
    } catch {
      // Already closed.
    }
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
    this.#conns.clear();
    await this.#accepting;
  }
}
