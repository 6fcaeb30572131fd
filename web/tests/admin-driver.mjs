// Drives the admin console in headless Chromium for the Rust browser test
// rsupport-web/tests/browser_admin.rs. Same line protocol as driver.mjs:
// one JSON command per line on stdin, one JSON answer per line on stdout,
// {"ok": true, ...} or {"ok": false, "error": "..."}. Every command works
// the pages as a person would (typing, clicking, reading what is shown);
// none calls the REST API itself. The test decides what is right.

import { mkdir } from "node:fs/promises";
import { openPage, serve } from "./chromium.mjs";

const { browser, page, consoleLines } = await openPage({ width: 1400, height: 900 });
page.setDefaultTimeout(20_000);
// "End session …?" and the like: the person says yes.
page.on("dialog", (d) => d.accept());

const view = (name) => page.locator(`#${name}-view`);
const accountRow = (username) => page.locator(`#accounts tr[data-username="${username}"]`);

/** Waits for the answer to an API call the page makes while `act` runs. */
async function answered(method, pathPart, act) {
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === method && new URL(r.url()).pathname.includes(pathPart)),
    act(),
  ]);
  return response.status();
}

/** The text of each cell of each row of a table body. */
async function cells(tbody) {
  return page.locator(`#${tbody} tr`).evaluateAll((rows) =>
    rows.map((r) => [...r.querySelectorAll("td")].map((td) => td.innerText.trim())),
  );
}

/** What the page shows as an error, if anything. */
async function shownError() {
  return (await page.locator("#error").innerText()).trim();
}

const commands = {
  async open({ url }) {
    await page.goto(url);
    await view("login").waitFor({ state: "visible" });
    // What a logged-out visitor sees besides the form.
    return {
      nav: await page.locator("#nav").isVisible(),
      totp: await page.locator("#totp-label").isVisible(),
      logout: await page.locator("#logout").isVisible(),
    };
  },
  // Logs in; `expect` is the view that must appear ("accounts" or "password").
  async login({ username, password, expect }) {
    const form = page.locator("#login-form");
    await form.locator("input[name=username]").fill(username);
    await form.locator("input[name=password]").fill(password);
    await form.locator("button[type=submit]").click();
    try {
      await view(expect ?? "accounts").waitFor({ state: "visible" });
    } catch (e) {
      throw new Error(`after logging in as ${username}, ${expect} did not show; the page says: ${await shownError()}`);
    }
    return { who: (await page.locator("#who").innerText()).trim() };
  },
  async change_password({ old_password, new_password }) {
    const form = page.locator("#password-form");
    await form.locator("input[name=old_password]").fill(old_password);
    await form.locator("input[name=new_password]").fill(new_password);
    await form.locator("input[name=again]").fill(new_password);
    await form.locator("button[type=submit]").click();
    await view("accounts").waitFor({ state: "visible" });
  },
  async logout() {
    await page.locator("#logout").click();
    await view("login").waitFor({ state: "visible" });
  },
  async create_account({ username, display_name, password, role }) {
    const form = page.locator("#create-form");
    await form.locator("input[name=username]").fill(username);
    await form.locator("input[name=display_name]").fill(display_name ?? "");
    await form.locator("input[name=password]").fill(password);
    await form.locator("select[name=role]").selectOption(role);
    const status = await answered("POST", "/api/v1/accounts", () => form.locator("button[type=submit]").click());
    if (status >= 300) throw new Error(`creating ${username}: ${await shownError()}`);
    await accountRow(username).waitFor();
  },
  // Ticks exactly the modes in `modes` on the account's row, one click per
  // change, and returns the modes the re-read list shows ticked.
  async set_modes({ username, modes }) {
    for (;;) {
      const boxes = accountRow(username).locator(".modes label");
      const count = await boxes.count();
      let changed = false;
      for (let i = 0; i < count; i++) {
        const label = boxes.nth(i);
        const mode = (await label.innerText()).trim().replaceAll(" ", "_");
        const box = label.locator("input");
        if ((await box.isChecked()) !== modes.includes(mode)) {
          // Mark the row, so the one drawn from the re-read list is told apart.
          await accountRow(username).evaluate((tr) => (tr.dataset.stale = "1"));
          const status = await answered("GET", "/api/v1/accounts", () => box.click());
          if (status >= 300) throw new Error(`changing ${mode}: ${await shownError()}`);
          await page.locator(`#accounts tr[data-username="${username}"]:not([data-stale])`).waitFor();
          const error = await shownError();
          if (error) throw new Error(`changing ${mode}: ${error}`);
          changed = true;
          break; // the table was drawn again: look afresh
        }
      }
      if (!changed) break;
    }
    return { modes: await modesOf(username) };
  },
  async account({ username }) {
    const row = accountRow(username);
    await row.waitFor();
    return {
      cells: await row.locator("td").evaluateAll((tds) => tds.map((td) => td.innerText.trim())),
      modes: await modesOf(username),
      unblock: await row.getByRole("button", { name: "Unblock" }).count(),
    };
  },
  // Reloads the accounts page (as a person presses F5) and unblocks the
  // account with the row's Unblock button.
  async unblock({ username }) {
    await page.reload();
    await view("accounts").waitFor({ state: "visible" });
    const button = accountRow(username).getByRole("button", { name: "Unblock" });
    await button.waitFor();
    const status = await answered("POST", "/unblock", () => button.click());
    if (status >= 300) throw new Error(`unblocking ${username}: ${await shownError()}`);
    await button.waitFor({ state: "detached" });
  },
  async reload() {
    await page.reload();
    await page.locator("main section:not([hidden])").first().waitFor();
  },
  // Opens a page with the navigation bar.
  async nav({ name }) {
    await page.locator(`#nav a[href="#${name}"]`).click();
    await view(name).waitFor({ state: "visible" });
  },
  async live_sessions() {
    await commands.nav({ name: "sessions" });
    await answered("GET", "/api/v1/sessions", () => page.locator("#sessions-refresh").click());
    return { rows: await cells("sessions") };
  },
  async end_session({ session_id }) {
    const row = page.locator(`#sessions tr[data-session="${session_id}"]`);
    const status = await answered("DELETE", `/api/v1/sessions/${session_id}`, () =>
      row.getByRole("button", { name: "End" }).click(),
    );
    if (status >= 300) throw new Error(`ending session ${session_id}: ${await shownError()}`);
    await row.waitFor({ state: "detached" });
    return { rows: await cells("sessions") };
  },
  async history({ operator }) {
    await commands.nav({ name: "history" });
    const form = page.locator("#history-form");
    await form.locator("input[name=operator]").fill(operator ?? "");
    await answered("GET", "/api/v1/audit", () => form.getByRole("button", { name: "Show" }).click());
    return { rows: await cells("history") };
  },
  async export_csv({ path }) {
    await mkdir(path.replace(/\/[^/]*$/, ""), { recursive: true });
    const [download] = await Promise.all([page.waitForEvent("download"), page.locator("#export-csv").click()]);
    await download.saveAs(path);
    return { name: download.suggestedFilename() };
  },
  async stats() {
    await commands.nav({ name: "stats" });
    await answered("GET", "/api/v1/stats", () => page.locator("#stats-form").getByRole("button", { name: "Show" }).click());
    return {
      operators: await cells("per-operator"),
      days: await cells("per-day"),
      durations: await cells("durations"),
      bars: await page.locator("#chart-sessions rect.bar-rect").count(),
    };
  },
  async settings() {
    await commands.nav({ name: "settings" });
    await page.locator("#settings-form input").first().waitFor();
  },
  async error_text() {
    return { text: await shownError() };
  },
  async screenshot({ path }) {
    await mkdir(path.replace(/\/[^/]*$/, ""), { recursive: true });
    await page.screenshot({ path, fullPage: true });
  },
  async console_log() {
    return { lines: consoleLines.slice(-50) };
  },
  async quit() {
    await browser.close();
    process.exit(0);
  },
};

async function modesOf(username) {
  return accountRow(username)
    .locator(".modes label")
    .evaluateAll((labels) =>
      labels.filter((l) => l.querySelector("input").checked).map((l) => l.innerText.trim().replaceAll(" ", "_")),
    );
}

await serve(commands, browser, consoleLines);
