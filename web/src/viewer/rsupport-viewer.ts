// <rsupport-viewer>: the customer's screen on a canvas, drawn from the
// changed rectangles only, with the operator's pointer, wheel and keys
// (physical code + keysym, and text an input method commits) sent back.
//
// A vendor puts it in their own page:
//
//   const viewer = document.createElement("rsupport-viewer");
//   viewer.attach(client, sessionId);   // client: RsupportClient
//   viewer.scaling = "fit";             // or "1", "0.5", "2" …
//
// Styles come from a constructed stylesheet, not a <style> element, so a
// strict Content-Security-Policy (style-src 'self') allows them.

import type { ConsoleEvent, RsupportClient } from "../client/client.js";

const STYLE = `
:host { display: block; position: relative; overflow: auto; background: #1d2125; outline: none; }
:host([scaling="fit"]) { overflow: hidden; }
.stage { position: relative; width: max-content; margin: 0 auto; }
canvas { display: block; image-rendering: auto; touch-action: none; }
canvas.overlay { position: absolute; left: 0; top: 0; pointer-events: none; }
textarea { position: absolute; left: 0; top: 0; width: 1px; height: 1px; opacity: 0;
           border: 0; padding: 0; resize: none; pointer-events: none; }
.waiting { position: absolute; inset: 0; display: flex; align-items: center; justify-content: center;
           color: #c8ced4; font: 15px system-ui, sans-serif; text-align: center; padding: 1em; }
.waiting[hidden] { display: none; }
`;

let sheet: CSSStyleSheet | null = null;
function styles(): CSSStyleSheet {
  if (!sheet) {
    sheet = new CSSStyleSheet();
    sheet.replaceSync(STYLE);
  }
  return sheet;
}

/** Wheel pixels per notch in Chromium and Firefox (deltaMode 0). */
const PIXELS_PER_NOTCH = 100;
/** The protocol's unit: 1/120th of a notch. */
const NOTCH = 120;

export class RsupportViewer extends HTMLElement {
  private client: RsupportClient | null = null;
  private session = "";
  private readonly canvas: HTMLCanvasElement;
  private readonly context: CanvasRenderingContext2D;
  private readonly overlay: HTMLCanvasElement;
  private stroke: string | null = null;
  private laserUntil = 0;
  /** What the pointer does: "control" (sent to the customer), "pen", "laser" or "label". */
  tool = "control";
  /** Replay scrolls by moving pixels on the canvas (false: redraw them;
   *  the bench compares both). */
  moveOnCanvas = true;
  /** Colour of drawings, "#rrggbb". */
  color = "#e61e1e";
  private readonly keys: HTMLTextAreaElement;
  private readonly waiting: HTMLDivElement;
  private cursors = new Map<string, string>();
  private pendingMove: { x: number; y: number } | null = null;
  private drawScheduled = false;
  private snapshot: HTMLCanvasElement | null = null;
  /** Frames drawn and how long decode-to-canvas took (for the bench). */
  readonly stats = { frames: 0, copied: 0, drawMs: [] as number[] };

  constructor() {
    super();
    const root = this.attachShadow({ mode: "open" });
    root.adoptedStyleSheets = [styles()];
    this.canvas = document.createElement("canvas");
    this.canvas.width = 0;
    this.canvas.height = 0;
    this.canvas.tabIndex = -1;
    this.keys = document.createElement("textarea");
    this.keys.setAttribute("aria-label", "keyboard input for the customer's screen");
    this.keys.autocapitalize = "off";
    this.keys.spellcheck = false;
    this.waiting = document.createElement("div");
    this.waiting.className = "waiting";
    this.waiting.textContent = "Nothing shared yet: ask the customer for a view.";
    this.overlay = document.createElement("canvas");
    this.overlay.className = "overlay";
    const stage = document.createElement("div");
    stage.className = "stage";
    stage.append(this.canvas, this.overlay);
    root.append(stage, this.keys, this.waiting);
    const context = this.canvas.getContext("2d", { alpha: false });
    if (!context) throw new Error("this browser cannot draw on a canvas");
    this.context = context;
    this.tabIndex = 0;
    this.wireInput();
  }

  static get observedAttributes(): string[] {
    return ["scaling"];
  }

  attributeChangedCallback(): void {
    this.layout();
  }

  /** "fit" (default) scales the screen into the element; a number is a zoom factor. */
  get scaling(): string {
    return this.getAttribute("scaling") ?? "fit";
  }

  set scaling(value: string) {
    this.setAttribute("scaling", value);
  }

  /** Decode times of the client this viewer shows (for the bench). */
  get decodeStats(): { decodeMs: number[] } {
    return this.client?.stats ?? { decodeMs: [] };
  }

  /** The canvas (tests read its pixels). */
  get screen(): HTMLCanvasElement {
    return this.canvas;
  }

  /** Shows session `session` of `client`. */
  attach(client: RsupportClient, session: string): void {
    this.client = client;
    this.session = session;
    client.on((event) => this.onEvent(event));
    new ResizeObserver(() => this.layout()).observe(this);
  }

  private onEvent(event: ConsoleEvent): void {
    if (event.session !== this.session) return;
    switch (event.type) {
      case "frame":
        this.resize(event.width as number, event.height as number);
        this.scheduleDraw();
        break;
      case "drawings":
        this.renderOverlay();
        break;
      case "cursor":
        this.setCursor(event.visible as boolean, event.shape_id as string);
        break;
      case "sharing":
        if (event.mode === null) {
          this.waiting.textContent = "Nothing shared now.";
          this.waiting.hidden = false;
        }
        break;
      case "ended":
        this.waiting.textContent = `The session ended: ${event.detail || event.reason}`;
        this.waiting.hidden = false;
        break;
    }
  }

  private resize(width: number, height: number): void {
    if (this.canvas.width === width && this.canvas.height === height) return;
    this.canvas.width = width;
    this.canvas.height = height;
    this.overlay.width = width;
    this.overlay.height = height;
    this.waiting.hidden = width > 0;
    this.layout();
  }

  private layout(): void {
    const { width, height } = this.canvas;
    if (!width || !height) return;
    let scale = Number(this.scaling);
    if (this.scaling === "fit" || !(scale > 0)) {
      scale = Math.min(this.clientWidth / width, this.clientHeight / height);
      if (!(scale > 0)) scale = 1;
    }
    for (const c of [this.canvas, this.overlay]) {
      c.style.width = `${Math.round(width * scale)}px`;
      c.style.height = `${Math.round(height * scale)}px`;
    }
  }

  // Many frame events can arrive in one WebSocket message; draw once per
  // animation frame, only the rectangles that changed.
  private scheduleDraw(): void {
    if (this.drawScheduled) return;
    this.drawScheduled = true;
    requestAnimationFrame(() => {
      this.drawScheduled = false;
      this.draw();
    });
  }

  private draw(): void {
    if (!this.client) return;
    const started = performance.now();
    const console = this.client.console;
    const changes = console.take_changes(this.session);
    const copies = changes[0] ?? 0;
    let rects = changes.subarray(1 + copies * 6);
    if (copies && this.moveOnCanvas) {
      this.replayCopies(changes.subarray(1, 1 + copies * 6));
      this.stats.copied += 1;
    } else if (copies) {
      // Redraw the copies' destinations from the framebuffer instead.
      const moved: number[] = [];
      for (let i = 1; i + 5 < 1 + copies * 6; i += 6) moved.push(changes[i + 2], changes[i + 3], changes[i + 4], changes[i + 5]);
      rects = Int32Array.from([...moved, ...rects]);
    }
    for (let i = 0; i + 3 < rects.length; i += 4) {
      const [x, y, w, h] = [rects[i], rects[i + 1], rects[i + 2], rects[i + 3]];
      // The pixels stay in WebAssembly memory: the canvas reads them there.
      const at = console.rgba_view(this.session, x, y, w, h);
      if (!at) continue;
      const pixels = new Uint8ClampedArray(this.client.memory.buffer, at, w * h * 4);
      this.context.putImageData(new ImageData(pixels, w, h), x, y);
    }
    if (rects.length || copies) {
      this.stats.frames += 1;
      this.stats.drawMs.push(performance.now() - started);
      if (this.stats.drawMs.length > 10_000) this.stats.drawMs.shift();
      this.dispatchEvent(new CustomEvent("drawn", { detail: { rects: rects.length / 4, copies } }));
    }
  }

  // The drawings, rendered by the same code as on the customer's screen.
  // Laser dots fade by themselves: keep rendering while one may be visible.
  private renderOverlay(): void {
    if (!this.client || !this.overlay.width) return;
    const rgba = this.client.console.overlay_rgba(this.session);
    const context = this.overlay.getContext("2d");
    if (!context || rgba.length !== this.overlay.width * this.overlay.height * 4) return;
    context.putImageData(
      new ImageData(new Uint8ClampedArray(rgba.buffer as ArrayBuffer, rgba.byteOffset, rgba.length), this.overlay.width, this.overlay.height),
      0,
      0,
    );
    if (performance.now() < this.laserUntil) setTimeout(() => this.renderOverlay(), 80);
  }

  /** Takes back the operator's last drawing. */
  undo(): void {
    this.send(() => this.client?.console.undo_drawing(this.session));
  }

  /** Removes every drawing. */
  clearDrawings(): void {
    this.send(() => this.client?.console.clear_drawings(this.session));
  }

  // A scroll moves most of the picture: move it on the canvas itself rather
  // than drawing those pixels again. All copies read the picture as it was
  // before any of them (as the decoder applied them), so their sources are
  // taken into a snapshot first.
  private replayCopies(copies: Int32Array): void {
    let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
    for (let i = 0; i + 5 < copies.length; i += 6) {
      x0 = Math.min(x0, copies[i]);
      y0 = Math.min(y0, copies[i + 1]);
      x1 = Math.max(x1, copies[i] + copies[i + 4]);
      y1 = Math.max(y1, copies[i + 1] + copies[i + 5]);
    }
    if (!(x1 > x0 && y1 > y0)) return;
    const snapshot = (this.snapshot ??= document.createElement("canvas"));
    if (snapshot.width < x1 - x0 || snapshot.height < y1 - y0) {
      snapshot.width = Math.max(snapshot.width, x1 - x0);
      snapshot.height = Math.max(snapshot.height, y1 - y0);
    }
    const scratch = snapshot.getContext("2d");
    if (!scratch) return;
    scratch.drawImage(this.canvas, x0, y0, x1 - x0, y1 - y0, 0, 0, x1 - x0, y1 - y0);
    for (let i = 0; i + 5 < copies.length; i += 6) {
      const [sx, sy, dx, dy, w, h] = copies.subarray(i, i + 6);
      this.context.drawImage(snapshot, sx - x0, sy - y0, w, h, dx, dy, w, h);
    }
  }

  private setCursor(visible: boolean, shape: string): void {
    if (!visible) {
      this.canvas.style.cursor = "none";
      return;
    }
    let css = this.cursors.get(shape);
    if (css === undefined && this.client) {
      const size = this.client.console.cursor_size(this.session, shape);
      const rgba = this.client.console.cursor_rgba(this.session, shape);
      css = "default";
      if (size.length === 4 && rgba.length === size[0] * size[1] * 4) {
        const [w, h, hx, hy] = size;
        const c = document.createElement("canvas");
        c.width = w;
        c.height = h;
        c.getContext("2d")?.putImageData(new ImageData(new Uint8ClampedArray(rgba), w, h), 0, 0);
        css = `url(${c.toDataURL()}) ${hx} ${hy}, default`;
      }
      this.cursors.set(shape, css);
    }
    this.canvas.style.cursor = css ?? "default";
  }

  // ----- input

  /** Sends input; "no control" while view-only is expected and ignored. */
  private send(act: () => void): void {
    if (!this.client) return;
    try {
      this.client.act(act);
    } catch {
      // View-only or paused: the customer's side would drop it anyway.
    }
  }

  private framePoint(e: MouseEvent): { x: number; y: number } {
    const box = this.canvas.getBoundingClientRect();
    const x = ((e.clientX - box.left) * this.canvas.width) / Math.max(box.width, 1);
    const y = ((e.clientY - box.top) * this.canvas.height) / Math.max(box.height, 1);
    return {
      x: Math.max(0, Math.min(this.canvas.width - 1, Math.floor(x))),
      y: Math.max(0, Math.min(this.canvas.height - 1, Math.floor(y))),
    };
  }

  private wireInput(): void {
    const c = this.canvas;
    c.addEventListener("pointermove", (e) => {
      if (this.tool !== "control") {
        this.drawMove(e);
        return;
      }
      // One move per animation frame is enough for the customer's pointer.
      const first = this.pendingMove === null;
      this.pendingMove = this.framePoint(e);
      if (first) {
        requestAnimationFrame(() => {
          const p = this.pendingMove;
          this.pendingMove = null;
          if (p) this.send(() => this.client?.console.pointer_move(this.session, p.x, p.y));
        });
      }
    });
    c.addEventListener("pointerdown", (e) => {
      e.preventDefault();
      c.setPointerCapture(e.pointerId);
      const p = this.framePoint(e);
      if (this.tool !== "control") {
        this.drawDown(p);
        return;
      }
      this.keys.focus({ preventScroll: true });
      this.send(() => this.client?.console.pointer_button(this.session, e.button, true, p.x, p.y));
    });
    c.addEventListener("pointerup", (e) => {
      const p = this.framePoint(e);
      if (this.tool !== "control") {
        this.drawUp();
        return;
      }
      this.send(() => this.client?.console.pointer_button(this.session, e.button, false, p.x, p.y));
    });
    c.addEventListener("contextmenu", (e) => e.preventDefault());
    c.addEventListener(
      "wheel",
      (e) => {
        e.preventDefault();
        const unit = e.deltaMode === 1 ? NOTCH / 3 : e.deltaMode === 2 ? NOTCH * 10 : NOTCH / PIXELS_PER_NOTCH;
        const dx = Math.round(e.deltaX * unit);
        const dy = Math.round(e.deltaY * unit);
        if (dx || dy) this.send(() => this.client?.console.wheel(this.session, dx, dy));
      },
      { passive: false },
    );
    this.addEventListener("focus", () => this.keys.focus({ preventScroll: true }));
    const k = this.keys;
    k.addEventListener("keydown", (e) => {
      // While an input method composes, its keys are its own; the committed
      // text arrives with compositionend.
      if (e.isComposing || e.keyCode === 229) return;
      e.preventDefault();
      this.send(() => this.client?.console.key(this.session, e.code, e.key, true, e.repeat));
    });
    k.addEventListener("keyup", (e) => {
      if (e.isComposing || e.keyCode === 229) return;
      e.preventDefault();
      this.send(() => this.client?.console.key(this.session, e.code, e.key, false, false));
    });
    k.addEventListener("compositionend", (e) => {
      if (e.data) this.send(() => this.client?.console.text(this.session, e.data));
      k.value = "";
    });
    k.addEventListener("input", (e) => {
      // Text that arrived without key events (paste, dictation).
      const ev = e as InputEvent;
      if (!ev.isComposing && ev.inputType === "insertFromPaste" && ev.data) {
        this.send(() => this.client?.console.text(this.session, ev.data ?? ""));
      }
      if (!ev.isComposing) k.value = "";
    });
    k.addEventListener("blur", () => this.send(() => this.client?.console.release_all(this.session)));
  }

  private drawDown(p: { x: number; y: number }): void {
    const console = this.client?.console;
    if (!console) return;
    if (this.tool === "pen") {
      try {
        this.stroke = this.client?.act((c) => c.pen_down(this.session, p.x, p.y, this.color, 4)) ?? null;
      } catch {
        this.stroke = null;
      }
    } else if (this.tool === "laser") {
      this.laserAt(p);
    } else if (this.tool === "label") {
      const text = window.prompt("Label text");
      if (text) this.send(() => this.client?.console.label(this.session, p.x, p.y, text, this.color));
    }
  }

  private drawMove(e: PointerEvent): void {
    const p = this.framePoint(e);
    if (this.tool === "pen" && this.stroke !== null) {
      const stroke = this.stroke;
      this.send(() => this.client?.console.pen_move(this.session, stroke, p.x, p.y));
    } else if (this.tool === "laser" && e.buttons) {
      this.laserAt(p);
    }
  }

  private drawUp(): void {
    if (this.stroke !== null) {
      const stroke = this.stroke;
      this.stroke = null;
      this.send(() => this.client?.console.pen_up(this.session, stroke));
    }
  }

  private laserAt(p: { x: number; y: number }): void {
    this.laserUntil = performance.now() + 2500;
    this.send(() => this.client?.console.laser(this.session, p.x, p.y, this.color));
  }

  /** Presses a named sequence on the customer's side ("ctrl_alt_del", "alt_hankaku_zenkaku"). */
  special(name: string): void {
    this.send(() => this.client?.console.special(this.session, name));
  }

  /** Types `text` on the customer's side as committed text. */
  typeText(text: string): void {
    this.send(() => this.client?.console.text(this.session, text));
  }

  /** Gives the keyboard to the customer's screen. */
  focusKeys(): void {
    this.keys.focus({ preventScroll: true });
  }
}

if (!customElements.get("rsupport-viewer")) customElements.define("rsupport-viewer", RsupportViewer);
