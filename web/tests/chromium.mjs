// What the console drivers share: headless Chromium as the tests run it,
// and the line protocol the Rust side speaks (rsupport-testkit::browser):
// one JSON command per line on stdin, one JSON answer per line on stdout,
// {"ok": true, ...} or {"ok": false, "error": "...", "console": [...]}.

import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  // The test relay's certificate is self-signed (real TLS, no CA).
  "--ignore-certificate-errors",
];

/**
 * Debian's Chromium with a fresh profile, one page of `viewport`, and the
 * page's console lines and errors collected for failing answers.
 */
export async function openPage(viewport) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: CHROMIUM_FLAGS,
  });
  const context = await browser.newContext({ ignoreHTTPSErrors: true, acceptDownloads: true, viewport });
  const page = await context.newPage();
  const consoleLines = [];
  page.on("console", (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => consoleLines.push(`pageerror: ${e.message}`));
  return { browser, context, page, consoleLines };
}

/** Answers the commands on stdin with `commands[cmd](command)` until stdin ends. */
export async function serve(commands, browser, consoleLines) {
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    let answer;
    try {
      const command = JSON.parse(line);
      const act = commands[command.cmd];
      if (!act) throw new Error(`unknown command ${command.cmd}`);
      answer = { ok: true, ...((await act(command)) ?? {}) };
    } catch (e) {
      answer = { ok: false, error: String(e?.message ?? e), console: consoleLines.slice(-20) };
    }
    process.stdout.write(`${JSON.stringify(answer)}\n`);
  }
  await browser.close();
}
