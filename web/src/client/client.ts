// RsupportClient: the operator's session in the browser. The WebAssembly
// console (rsupport-web) holds the relay protocol, the end-to-end keys and
// the decoded screens; this class only moves bytes between it and the
// WebSocket, runs its timers, and hands its events to the page.

import init, { WebConsole } from "../pkg/rsupport_web.js";

/** An event from the console; `type` says which (see rsupport-web's events.rs). */
export interface ConsoleEvent {
  type: string;
  session?: string;
  [field: string]: unknown;
}

let loaded: Promise<{ memory: WebAssembly.Memory }> | null = null;

/** First pause before dialing again after a drop; it doubles up to the maximum. */
const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 5_000;
/** How long the relay keeps a session for a party that dropped (its default grace). */
const RESUME_WINDOW_MS = 120_000;

/** Loads the WebAssembly module once per page. */
function loadWasm(): Promise<{ memory: WebAssembly.Memory }> {
  loaded ??= init().then((wasm) => {
    // The labels' font comes beside the module, not inside it (smaller
    // first load); drawings show without labels until it is here.
    fetch(new URL("../fonts/DejaVuSans.ttf", import.meta.url))
      .then((answer) => (answer.ok ? answer.arrayBuffer() : Promise.reject(new Error(answer.statusText))))
      .then((font) => WebConsole.load_font(new Uint8Array(font)))
      .catch((e) => console.warn(`labels will not show: the font did not load (${e})`));
    return wasm;
  });
  return loaded;
}

/** The WebSocket address of the relay that served this page. */
export function sameOriginRelay(): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}

export class RsupportClient extends EventTarget {
  private socket: WebSocket | null = null;
  /** Files offered from this page, by the name the console reads them by. */
  private readonly uploads = new Map<string, File>();
  private timer: number | undefined;
  /** Milliseconds the console took for each WebSocket message that carried
   *  a screen update (decryption and decoding), for the bench. */
  readonly stats = { decodeMs: [] as number[] };
  private sawFrame = false;
  readonly console: WebConsole;
  /** The module's memory, where `rgba_view` leaves pixels for the canvas. */
  readonly memory: WebAssembly.Memory;

  private constructor(console: WebConsole, memory: WebAssembly.Memory) {
    super();
    this.console = console;
    this.memory = memory;
  }

  /** Connects to the relay at `url` (default: the relay that served the page). */
  static async connect(url: string = sameOriginRelay(), software = "rsupport-web-console/0.1"): Promise<RsupportClient> {
    const wasm = await loadWasm();
    const client = new RsupportClient(new WebConsole(software), wasm.memory);
    await client.open(url);
    return client;
  }

  private url = "";

  private open(url: string): Promise<void> {
    this.url = url;
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url);
      socket.binaryType = "arraybuffer";
      this.socket = socket;
      socket.onopen = () => {
        this.flush();
        resolve();
      };
      socket.onerror = () => reject(new Error("could not reach the relay; check the address and your network"));
      socket.onmessage = (message: MessageEvent) => {
        if (socket === this.socket && message.data instanceof ArrayBuffer) {
          const started = performance.now();
          this.console.receive(new Uint8Array(message.data));
          const took = performance.now() - started;
          this.sawFrame = false;
          this.flush();
          if (this.sawFrame) {
            this.stats.decodeMs.push(took);
            if (this.stats.decodeMs.length > 10_000) this.stats.decodeMs.shift();
          }
        }
      };
      socket.onclose = () => {
        if (socket !== this.socket) return;
        this.console.connection_lost();
        this.flush();
        if (this.console.wants_reconnect()) this.redial(Date.now(), FIRST_RETRY_MS);
      };
    });
  }

  // Sessions survive a dropped connection: dial again with backoff for as
  // long as the relay keeps them (its grace period), then resume them.
  private redial(since: number, wait: number): void {
    if (Date.now() - since > RESUME_WINDOW_MS) {
      this.console.give_up();
      this.flush();
      return;
    }
    window.setTimeout(() => {
      this.open(this.url)
        .then(() => {
          this.console.reconnected();
          this.flush();
        })
        .catch(() => this.redial(since, Math.min(wait * 2, MAX_RETRY_MS)));
    }, wait);
  }

  /**
   * Runs `act` on the console, then sends what it produced and delivers its
   * events. Errors (plain words from the console) are rethrown.
   */
  act<T>(act: (console: WebConsole) => T): T {
    try {
      return act(this.console);
    } finally {
      this.flush();
    }
  }

  /** Sends queued bytes, dispatches queued events, and re-arms the timer. */
  flush(): void {
    for (;;) {
      const bytes = this.console.poll_outgoing();
      if (bytes === undefined) break;
      if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(bytes);
    }
    for (;;) {
      const text = this.console.poll_event();
      if (text === undefined) break;
      const event = JSON.parse(text) as ConsoleEvent;
      if (event.type === "frame") this.sawFrame = true;
      if (event.type === "file_read") {
        this.readForConsole(event);
        continue;
      }
      this.dispatchEvent(new CustomEvent<ConsoleEvent>("console", { detail: event }));
    }
    this.arm();
  }

  private arm(): void {
    window.clearTimeout(this.timer);
    const wait = this.console.next_timeout_ms();
    if (wait < 0) return;
    this.timer = window.setTimeout(() => {
      this.console.tick();
      this.flush();
    }, Math.min(Math.max(wait, 0), 60_000));
  }

  /** Offers `files` to the customer in session `session`; returns the transfer id. */
  offerFiles(session: string, files: File[]): string {
    const answer = this.act((c) =>
      c.offer_files(
        session,
        files.map((f) => f.name),
        Float64Array.from(files.map((f) => f.size)),
      ),
    );
    files.forEach((file, i) => this.uploads.set(answer[i + 1], file));
    return answer[0];
  }

  // The console reads offered files slice by slice, as the customer's side
  // takes them; the page reads them from disk without holding them whole.
  private readForConsole(event: ConsoleEvent): void {
    const session = String(event.session);
    const read = String(event.read);
    const file = this.uploads.get(String(event.upload));
    const offset = Number(event.offset);
    const failed = () => this.act((c) => c.read_failed(session, read));
    if (!file) {
      failed();
      return;
    }
    file
      .slice(offset, offset + Number(event.len))
      .arrayBuffer()
      .then((buffer) => this.act((c) => c.read_done(session, read, new Uint8Array(buffer))))
      .catch(failed);
  }

  /** Listens to the console's events. */
  on(listener: (event: ConsoleEvent) => void): void {
    this.addEventListener("console", (e) => listener((e as CustomEvent<ConsoleEvent>).detail));
  }

  /** Closes the connection. */
  close(): void {
    this.socket?.close();
  }
}
