// The admin console: one page, one view per address fragment (#accounts,
// #sessions, #history, #stats, #settings). Everything goes through the
// relay's REST API (../common/api.js); nothing is inline (the relay's CSP
// forbids it) and no text from the relay is parsed as HTML.

import { api, setCsrf, showError } from "../common/api.js";

const $ = (id) => document.getElementById(id);
const MODES = ["view_customer", "control_customer", "manage_customer", "share_operator_screen", "show_operator_screen"];
const VIEWS = ["login", "password", "accounts", "sessions", "history", "stats", "settings"];
let me = null;

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k in node) node[k] = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : String(c ?? ""));
  return node;
}

function when(ms) {
  return ms ? new Date(Number(ms)).toLocaleString() : "";
}

function duration(ms) {
  const s = Math.round(Number(ms) / 1000);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  return h ? `${h} h ${m} min` : m ? `${m} min ${s % 60} s` : `${s} s`;
}

function dayStart(value) {
  return value ? Date.parse(`${value}T00:00:00Z`) : 0;
}

async function guarded(work) {
  showError($("error"), null);
  try {
    await work();
  } catch (e) {
    showError($("error"), e);
    if (e.status === 401) showLogin();
  }
}

function show(view) {
  for (const v of VIEWS) $(`${v}-view`).hidden = v !== view;
}

function showLogin() {
  me = null;
  $("nav").hidden = true;
  $("logout").hidden = true;
  $("who").textContent = "";
  show("login");
}

function loggedIn(user) {
  me = user;
  setCsrf(user.csrf_token);
  $("who").textContent = `${user.display_name || user.username} (${user.role})`;
  $("logout").hidden = false;
  if (user.must_change_password) {
    $("password-form").elements.username.value = user.username;
    show("password");
    return;
  }
  if (user.role !== "admin") {
    showError($("error"), `${user.username} is not an admin account. Log in with an admin account.`);
    show("login");
    return;
  }
  $("nav").hidden = false;
  route();
}

function route() {
  if (!me || me.must_change_password || me.role !== "admin") return;
  const view = location.hash.slice(1) || "accounts";
  const load = { accounts: loadAccounts, sessions: loadSessions, history: () => loadHistory(false), stats: loadStats, settings: loadSettings }[view];
  if (!load) {
    location.hash = "#accounts";
    return;
  }
  show(view);
  guarded(load);
}

// ---- login and password ----

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const body = { username: form.get("username"), password: form.get("password") };
  if (form.get("totp")) body.totp = form.get("totp");
  guarded(async () => {
    try {
      loggedIn(await api("POST", "/api/v1/login", body));
      event.target.reset();
      $("totp-label").hidden = true;
    } catch (e) {
      if (e.body && (e.body.reason === "totp_required" || e.body.reason === "bad_totp")) $("totp-label").hidden = false;
      throw e;
    }
  });
});

$("password-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  if (form.get("new_password") !== form.get("again")) {
    showError($("error"), "The two new passwords differ. Type the same password twice.");
    return;
  }
  guarded(async () => {
    await api("POST", "/api/v1/password", { old_password: form.get("old_password"), new_password: form.get("new_password") });
    event.target.reset();
    loggedIn(await api("GET", "/api/v1/me"));
  });
});

$("logout").addEventListener("click", () => guarded(async () => {
  await api("POST", "/api/v1/logout", {});
  showLogin();
}));

// ---- accounts ----

async function patchAccount(name, change) {
  await api("PATCH", `/api/v1/accounts/${encodeURIComponent(name)}`, change);
  await loadAccounts();
}

function accountRow(a) {
  const modes = el("div", { class: "modes" }, ...MODES.map((m) => el("label", {},
    el("input", { type: "checkbox", checked: a.allowed_modes.includes(m), disabled: a.role !== "operator", onchange: (e) => guarded(() => {
      const boxes = [...e.target.closest(".modes").querySelectorAll("input")];
      return patchAccount(a.username, { allowed_modes: MODES.filter((_, i) => boxes[i].checked) });
    }) }), m.replaceAll("_", " "))));
  const actions = el("td", {},
    el("button", { type: "button", class: "plain", onclick: () => guarded(() => patchAccount(a.username, { enabled: !a.enabled })) }, a.enabled ? "Disable" : "Enable"), " ",
    el("button", { type: "button", class: "plain", onclick: () => guarded(async () => {
      const pw = prompt(`New password for ${a.username} (they must change it at next login):`);
      if (pw) await api("POST", `/api/v1/accounts/${encodeURIComponent(a.username)}/password`, { new_password: pw });
    }) }, "Reset password"), " ",
    el("button", { type: "button", class: "plain", onclick: () => guarded(async () => {
      const t = await api("POST", `/api/v1/accounts/${encodeURIComponent(a.username)}/totp`, {});
      $("totp-user").textContent = a.username;
      $("totp-secret").textContent = t.secret_base32;
      $("totp-qr").replaceChildren(el("img", { alt: "QR code for the authenticator app", src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(t.qr_svg)}` }));
      $("totp-box").hidden = false;
      await loadAccounts();
    }) }, a.totp_enabled ? "New authenticator" : "Set up authenticator"), " ",
    a.totp_enabled ? el("button", { type: "button", class: "plain", onclick: () => guarded(async () => {
      await api("DELETE", `/api/v1/accounts/${encodeURIComponent(a.username)}/totp`, {});
      await loadAccounts();
    }) }, "Remove authenticator") : "", " ",
    a.blocked_until_ms > Date.now() ? el("button", { type: "button", onclick: () => guarded(async () => {
      await api("POST", `/api/v1/accounts/${encodeURIComponent(a.username)}/unblock`, {});
      await loadAccounts();
    }) }, "Unblock") : "");
  return el("tr", { "data-username": a.username },
    el("td", {}, a.username, el("div", { class: "hint" }, a.display_name)),
    el("td", {}, a.role),
    el("td", {}, a.enabled ? "yes" : "no"),
    el("td", {}, ...(a.blocked_until_ms > Date.now() ? [when(a.blocked_until_ms), el("div", { class: "hint" }, "from some address")] : [])),
    el("td", {}, a.role === "operator" ? modes : "all"),
    el("td", {}, el("input", { type: "checkbox", checked: a.full_file_control, onchange: (e) => guarded(() => patchAccount(a.username, { full_file_control: e.target.checked })) })),
    el("td", {}, a.totp_enabled ? "on" : "off"),
    actions);
}

async function loadAccounts() {
  const { accounts } = await api("GET", "/api/v1/accounts");
  $("accounts").replaceChildren(...accounts.map(accountRow));
}

$("totp-done").addEventListener("click", () => {
  $("totp-box").hidden = true;
  $("totp-qr").replaceChildren();
  $("totp-secret").textContent = "";
});

$("create-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const body = Object.fromEntries(form.entries());
  if (!body.display_name) delete body.display_name;
  guarded(async () => {
    await api("POST", "/api/v1/accounts", body);
    event.target.reset();
    await loadAccounts();
  });
});

// ---- live sessions ----

function partyState(label, until) {
  return until ? `${label} away, back by ${new Date(Number(until)).toLocaleTimeString()}` : `${label} connected`;
}

async function loadSessions() {
  const { sessions } = await api("GET", "/api/v1/sessions");
  const rows = sessions.map((s) => el("tr", { "data-session": s.session_id },
    el("td", {}, s.session_id), el("td", {}, s.operator),
    el("td", {}, s.customer, s.customer_description ? el("div", { class: "hint" }, s.customer_description) : ""),
    el("td", { class: "nowrap" }, when(s.started_ms), el("div", { class: "hint" }, `${duration(Date.now() - s.started_ms)} so far`)),
    el("td", { class: "nowrap" }, el("div", {}, partyState("operator", s.operator_suspended_until_ms)), el("div", {}, partyState("customer", s.customer_suspended_until_ms)),
      el("div", { class: "hint" }, s.end_to_end ? "end-to-end encrypted" : "not encrypted end to end")),
    el("td", {}, s.modes.length ? s.modes.join(", ").replaceAll("_", " ") : "none"),
    el("td", {}, el("button", { type: "button", class: "danger", "data-testid": "end-session", onclick: () => guarded(async () => {
      if (!confirm(`End session ${s.session_id} for both parties?`)) return;
      await api("DELETE", `/api/v1/sessions/${s.session_id}`, {});
      await loadSessions();
    }) }, "End"))));
  $("sessions").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colSpan: 7 }, "No live sessions."))]));
}
$("sessions-refresh").addEventListener("click", () => guarded(loadSessions));

// ---- history ----

let nextAfter = null;

function historyQuery() {
  const form = new FormData($("history-form"));
  const q = new URLSearchParams();
  if (form.get("from")) q.set("from_ms", dayStart(form.get("from")));
  if (form.get("to")) q.set("to_ms", dayStart(form.get("to")) + 86400000);
  if (form.get("operator")) q.set("operator", form.get("operator"));
  return q;
}

/** "AdminEnded" → "admin ended". */
function endReason(reason) {
  return reason.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
}

async function loadHistory(more) {
  const q = historyQuery();
  q.set("limit", "200");
  if (more && nextAfter) q.set("after_id", nextAfter);
  const page = await api("GET", `/api/v1/audit?${q}`);
  const rows = page.records.map((r) => el("tr", {},
    el("td", { class: "nowrap" }, when(r.at_ms)), el("td", {}, r.kind.replaceAll("_", " ")), el("td", {}, r.operator),
    el("td", {}, r.source), el("td", {}, r.session_id ?? ""), el("td", {}, r.customer),
    el("td", {}, r.ended_ms ? duration(r.duration_ms) : ""), el("td", {}, r.end_reason ? endReason(r.end_reason) : r.detail)));
  if (more) $("history").append(...rows);
  else $("history").replaceChildren(...rows);
  nextAfter = page.next_after_id;
  $("history-more").hidden = !page.truncated;
}

$("history-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded(() => loadHistory(false));
});
$("history-more").addEventListener("click", () => guarded(() => loadHistory(true)));
for (const format of ["csv", "json"]) {
  $(`export-${format}`).addEventListener("click", (event) => {
    event.preventDefault();
    const q = historyQuery();
    q.set("format", format);
    location.href = `/api/v1/audit/export?${q}`;
  });
}

// ---- statistics ----

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function barChart(days, key) {
  const w = 600, h = 200, pad = 24;
  const max = Math.max(1, ...days.map((d) => d[key]));
  const chart = svg("svg", { class: "chart", viewBox: `0 0 ${w} ${h}`, role: "img" });
  chart.append(svg("line", { class: "axis", x1: pad, y1: h - pad, x2: w, y2: h - pad }));
  chart.append(svg("text", { x: 0, y: 12 }, String(max)));
  const step = (w - pad) / Math.max(1, days.length);
  days.forEach((d, i) => {
    const bh = ((h - 2 * pad) * d[key]) / max;
    const rect = svg("rect", { class: "bar-rect", x: pad + i * step + 1, y: h - pad - bh, width: Math.max(1, step - 2), height: bh });
    rect.append(svg("title", {}, `${d.date}: ${d[key]}`));
    chart.append(rect);
    if (days.length <= 14 || i % Math.ceil(days.length / 10) === 0) {
      chart.append(svg("text", { x: pad + i * step, y: h - 6 }, d.date.slice(5)));
    }
  });
  return chart;
}

async function loadStats() {
  const form = new FormData($("stats-form"));
  const q = new URLSearchParams();
  if (form.get("from")) q.set("from_ms", dayStart(form.get("from")));
  if (form.get("to")) q.set("to_ms", dayStart(form.get("to")) + 86400000);
  const s = await api("GET", `/api/v1/stats?${q}`);
  $("chart-sessions").replaceChildren(barChart(s.days, "sessions"));
  $("chart-peak").replaceChildren(barChart(s.days, "peak_concurrent"));
  const d = s.durations;
  $("durations").replaceChildren(
    el("tr", {}, el("th", {}, "Sessions"), el("td", {}, d.count)),
    el("tr", {}, el("th", {}, "Mean"), el("td", {}, duration(d.mean_ms))),
    el("tr", {}, el("th", {}, "Median"), el("td", {}, duration(d.median_ms))),
    el("tr", {}, el("th", {}, "Longest"), el("td", {}, duration(d.longest_ms))));
  $("per-operator").replaceChildren(...s.operators.map((o) => el("tr", {}, el("td", {}, o.username), el("td", {}, o.sessions), el("td", {}, duration(o.total_ms)))));
  $("per-day").replaceChildren(...s.days.filter((x) => x.sessions || x.peak_concurrent).map((x) => el("tr", {}, el("td", {}, x.date), el("td", {}, x.sessions), el("td", {}, x.peak_concurrent))));
}
$("stats-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded(loadStats);
});

// ---- settings ----

const SETTINGS = {
  max_failed_logins: "Failed logins before a lockout",
  lockout_ms: "Lockout length (ms)",
  code_length: "Session code digits (relay part)",
  code_ttl_ms: "Session code lifetime (ms)",
  max_concurrent_sessions: "Concurrent sessions (licence)",
  max_session_ms: "Longest session (ms, 0 = unlimited)",
  time_warning_ms: "Warn before the time limit (ms)",
  join_url_template: "Join link template ({code})",
  remote_printing: "Customers may print to the operator",
  resume_grace_ms: "Wait for a dropped party (ms)",
  allow_plaintext_sessions: "Allow sessions without end-to-end encryption",
};

async function loadSettings() {
  const current = await api("GET", "/api/v1/settings");
  const form = $("settings-form");
  const fields = Object.entries(SETTINGS).map(([key, label]) => {
    const value = current[key];
    if (typeof value === "boolean") {
      return el("label", { class: "check" }, el("input", { type: "checkbox", name: key, checked: value }), label);
    }
    const input = el("input", { name: key, value: String(value), type: typeof value === "number" ? "number" : "text", min: "0" });
    return el("label", {}, label, input);
  });
  form.replaceChildren(...fields, el("div", { class: "actions" }, el("button", { type: "submit" }, "Save")));
}

$("settings-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const change = {};
  for (const input of event.target.querySelectorAll("input")) {
    if (input.type === "checkbox") change[input.name] = input.checked;
    else if (input.type === "number") change[input.name] = Number(input.value);
    else change[input.name] = input.value;
  }
  guarded(async () => {
    await api("PATCH", "/api/v1/settings", change);
    await loadSettings();
  });
});

// ---- start ----

window.addEventListener("hashchange", route);
api("GET", "/api/v1/me").then(loggedIn, showLogin);
