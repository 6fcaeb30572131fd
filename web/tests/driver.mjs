// Drives the web console in headless Chromium for the Rust browser tests
// (rsupport-web/tests/browser_console.rs). The test writes one JSON command
// per line on stdin; the driver answers each with one JSON line on stdout:
// {"ok": true, ...} or {"ok": false, "error": "..."}. The test, not this
// script, decides what is right: it holds the X server and the customer.

import { writeFile, mkdir } from "node:fs/promises";
import { openPage, serve } from "./chromium.mjs";

const { browser, context, page, consoleLines } = await openPage({ width: 1600, height: 1000 });
let crashed = false;
page.on("crash", () => (crashed = true));

const viewer = () => page.locator(".session:not([hidden]) rsupport-viewer");

/** The visible session's canvas box and size, in page coordinates. */
async function canvasGeometry() {
  return viewer().evaluate((v) => {
    const c = v.screen;
    const b = c.getBoundingClientRect();
    return { left: b.left, top: b.top, width: b.width, height: b.height, cw: c.width, ch: c.height };
  });
}

async function pagePoint(x, y) {
  const g = await canvasGeometry();
  return { x: g.left + ((x + 0.5) * g.width) / g.cw, y: g.top + ((y + 0.5) * g.height) / g.ch };
}

const commands = {
  async open({ url }) {
    await page.goto(url);
    await page.getByTestId("username").waitFor({ state: "visible" });
  },
  // Logs in; answers which page the console went to, or its error.
  async login({ username, password, totp }) {
    await page.getByTestId("username").fill(username);
    await page.getByTestId("password").fill(password);
    await page.getByTestId("totp").fill(totp ?? "");
    await page.locator("#login-error").evaluate((e) => (e.textContent = ""));
    await page.getByTestId("login").click();
    await page.waitForFunction(
      () =>
        !document.querySelector("#lobby-page").hidden ||
        !document.querySelector("#password-page").hidden ||
        document.querySelector("#login-error").textContent.length > 0,
    );
    const state = await page.evaluate(() =>
      !document.querySelector("#lobby-page").hidden
        ? "lobby"
        : !document.querySelector("#password-page").hidden
          ? "password"
          : "error",
    );
    return { page: state, error: await page.locator("#login-error").textContent() };
  },
  async change_password({ old, password }) {
    const form = page.locator("#password-form");
    await form.locator("input[name=old]").fill(old);
    await form.locator("input[name=new]").fill(password);
    await form.locator("input[name=again]").fill(password);
    await form.locator("button[type=submit]").click();
    await page.getByTestId("issue-code").waitFor({ state: "visible" });
  },
  async page_text({ testid }) {
    return { text: await page.getByTestId(testid).first().textContent() };
  },
  async accept_contact() {
    await page.getByTestId("contact-accept").first().click();
  },
  async tab({ index }) {
    await page.locator("#tabs button").nth(index).click();
  },
  async wait_tabs({ count }) {
    await page.waitForFunction((n) => document.querySelectorAll("#tabs button").length >= n, count);
  },
  async issue_code() {
    await page.getByTestId("issue-code").click();
    const code = page.getByTestId("code");
    await page.waitForFunction(() => document.querySelector("#code")?.textContent?.length > 0);
    return { code: await code.textContent() };
  },
  async wait_session() {
    await page.locator(".session").first().waitFor({ state: "attached" });
    return { session: await page.locator(".session").first().getAttribute("data-session") };
  },
  async request({ mode }) {
    await page.locator(`.session:not([hidden]) [data-testid="mode-${mode}"]`).click();
  },
  async wait_text({ testid, text }) {
    await page.locator(`.session:not([hidden]) [data-testid="${testid}"]`).filter({ hasText: text }).waitFor();
  },
  async text_of({ testid }) {
    return { text: await page.locator(`.session:not([hidden]) [data-testid="${testid}"]`).textContent() };
  },
  async scale({ value }) {
    await page.locator(".session:not([hidden]) [data-testid=scaling]").selectOption(value);
  },
  async canvas({ path }) {
    const shot = await viewer().evaluate((v) => {
      const c = v.screen;
      if (!c.width || !c.height) return { width: c.width, height: c.height, data: "" };
      const bytes = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      let binary = "";
      for (let i = 0; i < bytes.length; i += 0x8000) {
        binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
      }
      return { width: c.width, height: c.height, data: btoa(binary) };
    });
    await writeFile(path, Buffer.from(shot.data, "base64"));
    return { width: shot.width, height: shot.height };
  },
  async wait_drawn({ count }) {
    await page.waitForFunction(
      (n) => document.querySelector(".session:not([hidden]) rsupport-viewer")?.stats.frames >= n,
      count,
    );
  },
  async move({ x, y }) {
    const p = await pagePoint(x, y);
    await page.mouse.move(p.x, p.y);
  },
  async click({ x, y }) {
    const p = await pagePoint(x, y);
    await page.mouse.click(p.x, p.y);
  },
  async type({ text }) {
    await viewer().evaluate((v) => v.focusKeys());
    await page.keyboard.type(text, { delay: 20 });
  },
  async press({ key }) {
    await viewer().evaluate((v) => v.focusKeys());
    await page.keyboard.press(key);
  },
  // An input method composing and committing `text`, as Japanese IMEs do.
  async ime({ text }) {
    await viewer().evaluate((v) => v.focusKeys());
    const cdp = await context.newCDPSession(page);
    await cdp.send("Input.imeSetComposition", { text, selectionStart: text.length, selectionEnd: text.length });
    await cdp.send("Input.insertText", { text });
    await cdp.detach();
  },
  async button({ testid }) {
    await page.locator(`.session:not([hidden]) [data-testid="${testid}"]`).first().click();
  },
  async chat({ text }) {
    await page.locator(".session:not([hidden]) [data-testid=chat-input]").fill(text);
    await page.locator(".session:not([hidden]) [data-testid=chat-send]").click();
  },
  async wait_chat({ text }) {
    await page.locator(".session:not([hidden]) [data-testid=chat-log] li").filter({ hasText: text }).waitFor();
  },
  async upload({ path }) {
    await page.locator(".session:not([hidden]) [data-testid=file-picker]").setInputFiles(path);
  },
  async accept_offer() {
    await page.locator(".session:not([hidden]) [data-testid=file-accept]").first().click();
  },
  async wait_file_state({ text }) {
    await page.locator(".session:not([hidden]) .file-state").filter({ hasText: text }).first().waitFor();
  },
  async save({ path }) {
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.locator(".session:not([hidden]) [data-testid=file-save]").first().click(),
    ]);
    await download.saveAs(path);
    return { name: download.suggestedFilename() };
  },
  async tool({ name }) {
    await page.locator(`.session:not([hidden]) [data-testid="tool-${name}"]`).click();
  },
  async drag({ from, to, steps }) {
    const a = await pagePoint(from[0], from[1]);
    const b = await pagePoint(to[0], to[1]);
    await page.mouse.move(a.x, a.y);
    await page.mouse.down();
    await page.mouse.move(b.x, b.y, { steps: steps ?? 10 });
    await page.mouse.up();
  },
  // The label tool asks for the text with a prompt; the person types `text`.
  async label({ x, y, text }) {
    page.once("dialog", (d) => d.accept(text));
    await page.locator(".session:not([hidden]) [data-testid=tool-label]").click();
    const p = await pagePoint(x, y);
    await page.mouse.click(p.x, p.y);
  },
  async overlay_ink({ x, y, w, h }) {
    const inked = await viewer().evaluate((v, [x, y, w, h]) => {
      const d = v.shadowRoot.querySelector("canvas.overlay").getContext("2d").getImageData(x, y, w, h).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n += 1;
      return n;
    }, [x, y, w, h]);
    return { inked };
  },
  async overlay_pixel({ x, y }) {
    const rgba = await viewer().evaluate(
      (v, [x, y]) => Array.from(v.shadowRoot.querySelector("canvas.overlay").getContext("2d").getImageData(x, y, 1, 1).data),
      [x, y],
    );
    return { rgba };
  },
  async click_download({ testid, path }) {
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.locator(`.session:not([hidden]) [data-testid="${testid}"]`).click(),
    ]);
    await download.saveAs(path);
    return { name: download.suggestedFilename() };
  },
  async display({ depth }) {
    await page.locator(".session:not([hidden]) [data-testid=display]").click();
    await page.locator(".session:not([hidden]) [data-testid=depth]").selectOption(depth);
    await page.locator(".session:not([hidden]) [data-testid=apply-display]").click();
  },
  async count_colors() {
    return viewer().evaluate((v) => {
      const c = v.screen;
      const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      const seen = new Set();
      for (let i = 0; i < d.length; i += 4) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
      return { colors: seen.size };
    });
  },
  async end() {
    await page.locator(".session:not([hidden]) [data-testid=end]").click();
  },
  async screenshot({ path }) {
    await mkdir(path.replace(/\/[^/]*$/, ""), { recursive: true });
    await page.screenshot({ path });
  },
  async alive() {
    if (crashed) throw new Error("the tab crashed");
    return { sum: await page.evaluate(() => 20 + 22) };
  },
  async stats() {
    return viewer().evaluate((v) => ({
      frames: v.stats.frames,
      copied: v.stats.copied,
      drawMs: v.stats.drawMs,
      decodeMs: v.decodeStats.decodeMs,
    }));
  },
  async cursor_css() {
    return { cursor: await viewer().evaluate((v) => v.screen.style.cursor) };
  },
  async move_on_canvas({ on }) {
    await viewer().evaluate((v, on) => (v.moveOnCanvas = on), on);
  },
  async reset_stats() {
    await viewer().evaluate((v) => {
      v.stats.frames = 0;
      v.stats.copied = 0;
      v.stats.drawMs.length = 0;
      v.decodeStats.decodeMs.length = 0;
    });
  },
  async console_log() {
    return { lines: consoleLines.slice(-50) };
  },
  async quit() {
    await browser.close();
    process.exit(0);
  },
};

await serve(commands, browser, consoleLines);
