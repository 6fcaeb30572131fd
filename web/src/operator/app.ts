// The operator console: log in, issue a code, and work in one tab per
// session (screen, modes and consent state, chat, special keys, end).
// Everything a session shows was decrypted here, in the browser.

import { RsupportClient, type ConsoleEvent } from "../client/client.js";
// Imported for its side effect too: it defines <rsupport-viewer>.
import "../viewer/rsupport-viewer.js";
import type { RsupportViewer } from "../viewer/rsupport-viewer.js";
import { FilePanel } from "./files.js";
import { ToolRow } from "./tools.js";
import { PrintPanel } from "./print.js";

function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page lacks #${id}`);
  return el;
}

function show(page: "login-page" | "password-page" | "lobby-page"): void {
  for (const id of ["login-page", "password-page", "lobby-page"]) $(id).hidden = id !== page;
}

/** Runs a console request and shows its error (plain words) in `where`. */
function attempt(where: HTMLElement, act: () => void): void {
  where.textContent = "";
  try {
    act();
  } catch (e) {
    where.textContent = e instanceof Error ? e.message : String(e);
  }
}

const MODE_WORDS: Record<string, string> = {
  view: "viewing",
  control: "controlling",
  manage: "managing",
  share: "sharing your screen",
  show: "showing your screen",
};

class SessionTab {
  readonly panel: HTMLElement;
  readonly tab: HTMLButtonElement;
  readonly viewer: RsupportViewer;
  private readonly state: HTMLElement;
  private readonly notice: HTMLElement;
  private readonly chatLog: HTMLElement;
  private readonly typing: HTMLElement;
  private asked: string | null = null;
  private ended = false;

  constructor(
    private readonly client: RsupportClient,
    readonly id: string,
    peer: string,
    allowed: string[],
    firstMessage = "",
  ) {
    const template = $("session-template") as HTMLTemplateElement;
    const fragment = template.content.cloneNode(true) as DocumentFragment;
    this.panel = fragment.querySelector(".session") as HTMLElement;
    this.panel.dataset.session = id;
    this.viewer = this.panel.querySelector("rsupport-viewer") as RsupportViewer;
    this.state = this.panel.querySelector(".state") as HTMLElement;
    this.notice = this.panel.querySelector(".notice") as HTMLElement;
    this.chatLog = this.panel.querySelector(".chat-log") as HTMLElement;
    this.typing = this.panel.querySelector(".typing") as HTMLElement;
    $("sessions").append(this.panel);
    this.viewer.attach(client, id);

    this.tab = document.createElement("button");
    this.tab.textContent = peer || "Customer";
    this.tab.dataset.session = id;
    this.tab.addEventListener("click", () => this.select());
    $("tabs").append(this.tab);

    for (const button of this.panel.querySelectorAll<HTMLButtonElement>("button[data-mode]")) {
      const mode = button.dataset.mode ?? "";
      button.disabled = !allowed.includes(mode);
      if (button.disabled) button.title = "an admin has not allowed this mode for you";
      button.addEventListener("click", () => this.ask(mode));
    }
    for (const button of this.panel.querySelectorAll<HTMLButtonElement>("button[data-special]")) {
      button.addEventListener("click", () => {
        this.viewer.special(button.dataset.special ?? "");
        this.viewer.focusKeys();
      });
    }
    const scaling = this.panel.querySelector(".scaling") as HTMLSelectElement;
    scaling.addEventListener("change", () => (this.viewer.scaling = scaling.value));
    (this.panel.querySelector(".end") as HTMLButtonElement).addEventListener("click", () =>
      attempt(this.notice, () => client.act((c) => c.end_session(id))),
    );
    const form = this.panel.querySelector(".chat-form") as HTMLFormElement;
    const line = form.elements.namedItem("line") as HTMLInputElement;
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const text = line.value;
      if (!text.trim()) return;
      attempt(this.notice, () => {
        client.act((c) => c.chat(id, text));
        this.addChat("You", text, true);
        line.value = "";
      });
    });
    line.addEventListener("input", () => {
      try {
        client.act((c) => c.chat_typing(id, line.value.length > 0));
      } catch {
        /* the session ended */
      }
    });
    client.on((event) => {
      if (event.session === id) this.onEvent(event);
    });
    const report = (text: string) => (this.notice.textContent = text);
    new FilePanel(client, id, this.panel, report);
    new ToolRow(client, id, this.panel, this.viewer, report);
    new PrintPanel(client, id, this.panel, report);
    $("no-sessions").hidden = true;
    if (firstMessage) this.addChat(peer || "Customer", firstMessage, false);
    this.select();
  }

  select(): void {
    for (const panel of document.querySelectorAll<HTMLElement>("#sessions .session")) {
      panel.hidden = panel !== this.panel;
    }
    for (const tab of document.querySelectorAll<HTMLButtonElement>("#tabs button")) {
      tab.classList.toggle("active", tab === this.tab);
    }
  }

  private ask(mode: string): void {
    attempt(this.notice, () => {
      this.client.act((c) => c.request_mode(this.id, mode, "to help you"));
      this.asked = mode;
      this.state.textContent = `waiting for the customer to allow ${mode}…`;
    });
  }

  private addChat(from: string, text: string, mine: boolean): void {
    const item = document.createElement("li");
    item.textContent = `${from}: ${text}`;
    item.classList.toggle("mine", mine);
    this.chatLog.append(item);
    item.scrollIntoView({ block: "nearest" });
  }

  private onEvent(event: ConsoleEvent): void {
    switch (event.type) {
      case "protection": {
        const badge = this.panel.querySelector(".protection") as HTMLElement;
        badge.textContent =
          event.state === "encrypted"
            ? `end-to-end encrypted · check with the customer: ${event.fingerprint}`
            : String(event.text);
        badge.classList.toggle("encrypted", event.state === "encrypted");
        badge.classList.toggle("plaintext", event.state === "plaintext");
        break;
      }
      case "sharing": {
        const mode = event.mode as string | null;
        for (const button of this.panel.querySelectorAll<HTMLButtonElement>("button[data-mode]")) {
          button.classList.toggle("active", button.dataset.mode === mode);
        }
        if (mode === null) this.state.textContent = "chat only";
        else if (event.paused) this.state.textContent = "paused by the customer";
        else if (event.control === "revoked") this.state.textContent = "the customer took control back";
        else this.state.textContent = MODE_WORDS[mode] ?? mode;
        this.asked = null;
        break;
      }
      case "mode_refused":
        this.state.textContent = `the customer did not allow ${event.mode}`;
        this.asked = null;
        break;
      case "chat":
        this.addChat(String(event.from), String(event.text), false);
        this.typing.hidden = true;
        break;
      case "peer_typing":
        this.typing.hidden = !event.typing;
        break;
      case "notice":
        this.notice.textContent = String(event.text);
        break;
      case "connection": {
        const words: Record<string, string> = {
          reconnecting: "Connection lost; reconnecting. Nothing is lost meanwhile.",
          resumed: "Reconnected; the session goes on.",
          peer_away: "The customer's connection dropped; waiting for it to come back.",
          peer_back: "The customer is back.",
        };
        this.notice.textContent = words[String(event.state)] ?? "";
        break;
      }
      case "ended":
        if (this.ended) break;
        this.ended = true;
        this.state.textContent = "ended";
        this.notice.textContent = `The session ended${event.by_peer ? " (the customer left)" : ""}: ${
          event.detail || event.reason
        }`;
        for (const button of this.panel.querySelectorAll<HTMLButtonElement>(".toolbar button, .chat-form button")) {
          button.disabled = true;
        }
        this.tab.textContent = `${this.tab.textContent} (ended)`;
        break;
    }
    if (this.asked && event.type === "sharing") this.asked = null;
  }
}

async function main(): Promise<void> {
  let client: RsupportClient;
  try {
    client = await RsupportClient.connect();
  } catch (e) {
    $("relay-state").textContent = e instanceof Error ? e.message : String(e);
    return;
  }
  const sessions = new Map<string, SessionTab>();
  let loggedInOnce = false;
  // First lines of contacts accepted here, for the session they start.
  const accepted: string[] = [];

  function contactCard(event: ConsoleEvent): void {
    const contact = String(event.contact);
    const card = document.createElement("li");
    card.dataset.contact = contact;
    const who = document.createElement("strong");
    who.textContent = String(event.name || "A customer");
    const what = document.createElement("div");
    what.textContent = String(event.description || "");
    const first = document.createElement("div");
    first.className = "first";
    first.textContent = event.first_message ? `“${event.first_message}”` : "";
    const accept = document.createElement("button");
    accept.textContent = "Accept";
    accept.dataset.testid = "contact-accept";
    const decline = document.createElement("button");
    decline.textContent = "Decline";
    accept.addEventListener("click", () =>
      attempt($("lobby-error"), () => {
        client.act((c) => c.answer_contact(contact, true));
        accepted.push(String(event.first_message || ""));
        card.remove();
      }),
    );
    decline.addEventListener("click", () =>
      attempt($("lobby-error"), () => {
        client.act((c) => c.answer_contact(contact, false));
        card.remove();
      }),
    );
    card.append(who, what, first, accept, " ", decline);
    $("contacts").append(card);
  }

  client.on((event) => {
    switch (event.type) {
      case "connected":
        // After a reconnect the sessions stay on screen; logging in again
        // is only needed for new codes (see "reconnected").
        if (!loggedInOnce) {
          $("relay-state").textContent = `connected to ${event.relay_name || "the relay"}`;
          show("login-page");
        }
        break;
      case "login_refused":
        $("login-error").textContent = String(event.message);
        break;
      case "logged_in":
        loggedInOnce = true;
        $("who").textContent = `${event.display_name} · ID ${event.operator_id}`;
        if (event.role === "admin") {
          const link = document.createElement("a");
          link.href = "../admin/";
          link.textContent = "admin console";
          $("who").append(" · ", link);
        }
        show(event.must_change_password ? "password-page" : "lobby-page");
        break;
      case "password_changed":
        show("lobby-page");
        break;
      case "refused":
        ($("password-page").hidden ? $("lobby-error") : $("password-error")).textContent = String(event.message);
        break;
      case "code_issued": {
        $("invitation").hidden = false;
        $("code").textContent = String(event.code);
        const expires = new Date(Number(event.expires_at_ms));
        $("code-expiry").textContent = `valid until ${expires.toLocaleTimeString()}`;
        const link = $("join-link") as HTMLAnchorElement;
        link.textContent = event.join_link ? "join link" : "";
        link.href = String(event.join_link || "#");
        break;
      }
      case "contact_request":
        contactCard(event);
        break;
      case "session_started": {
        const id = String(event.session);
        const first = event.by_contact ? (accepted.shift() ?? "") : "";
        if (!event.by_contact) $("invitation").hidden = true;
        sessions.set(id, new SessionTab(client, id, String(event.peer_name), event.allowed_modes as string[], first));
        break;
      }
      case "reconnecting":
        $("relay-state").textContent = "connection to the relay lost; reconnecting (sessions wait)…";
        break;
      case "reconnected": {
        $("relay-state").textContent = "reconnected; sessions resumed. ";
        const again = document.createElement("button");
        again.textContent = "Log in again to issue codes";
        again.addEventListener("click", () => show("login-page"));
        $("relay-state").append(again);
        break;
      }
      case "closed":
        $("relay-state").textContent = String(event.detail);
        break;
    }
  });

  const loginForm = $("login-form") as HTMLFormElement;
  loginForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const data = new FormData(loginForm);
    attempt($("login-error"), () =>
      client.act((c) =>
        c.login(String(data.get("username")), String(data.get("password")), String(data.get("totp") ?? "")),
      ),
    );
    // The password field is not kept in the page once sent.
    (loginForm.elements.namedItem("password") as HTMLInputElement).value = "";
  });
  const passwordForm = $("password-form") as HTMLFormElement;
  passwordForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const data = new FormData(passwordForm);
    if (data.get("new") !== data.get("again")) {
      $("password-error").textContent = "The two new passwords differ. Type the same one twice.";
      return;
    }
    attempt($("password-error"), () =>
      client.act((c) => c.change_password(String(data.get("old")), String(data.get("new")))),
    );
    passwordForm.reset();
  });
  $("issue-code").addEventListener("click", () => attempt($("lobby-error"), () => client.act((c) => c.issue_code())));
  $("cancel-code").addEventListener("click", () =>
    attempt($("lobby-error"), () => {
      client.act((c) => c.cancel_code($("code").textContent ?? ""));
      $("invitation").hidden = true;
    }),
  );
  client.flush();
}

void main();
