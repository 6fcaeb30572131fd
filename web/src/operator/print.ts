// A session's print inbox: what the customer prints comes here. Accept or
// decline each job; a verified document can be downloaded or opened in a
// new tab to print on this computer's printer.

import type { ConsoleEvent, RsupportClient } from "../client/client.js";

export class PrintPanel {
  private readonly list: HTMLElement;
  private readonly rows = new Map<string, HTMLElement>();

  constructor(
    private readonly client: RsupportClient,
    private readonly session: string,
    panel: HTMLElement,
    private readonly report: (text: string) => void,
  ) {
    this.list = panel.querySelector(".print-list") as HTMLElement;
    client.on((event) => {
      if (event.session === session) this.onEvent(event);
    });
  }

  private row(job: string): HTMLElement {
    let row = this.rows.get(job);
    if (!row) {
      row = document.createElement("li");
      row.dataset.job = job;
      const title = document.createElement("div");
      title.className = "print-title";
      const state = document.createElement("div");
      state.className = "print-state";
      const actions = document.createElement("div");
      actions.className = "print-actions";
      row.append(title, state, actions);
      this.list.append(row);
      this.rows.set(job, row);
    }
    return row;
  }

  private set(job: string, part: string, text: string): void {
    (this.row(job).querySelector(part) as HTMLElement).textContent = text;
  }

  private button(job: string, label: string, testid: string, act: () => void): void {
    const button = document.createElement("button");
    button.textContent = label;
    button.dataset.testid = testid;
    button.addEventListener("click", () => {
      try {
        act();
      } catch (e) {
        this.report(e instanceof Error ? e.message : String(e));
      }
    });
    this.row(job).querySelector(".print-actions")?.append(button);
  }

  private clear(job: string): void {
    this.row(job).querySelector(".print-actions")?.replaceChildren();
  }

  private document(job: string): { url: string; name: string } {
    const [name, mime] = this.client.act((c) => c.print_document_info(this.session, job));
    const bytes = this.client.act((c) => c.print_document(this.session, job));
    const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: mime }));
    setTimeout(() => URL.revokeObjectURL(url), 10 * 60_000);
    return { url, name };
  }

  private onEvent(event: ConsoleEvent): void {
    const job = String(event.job ?? "");
    switch (event.type) {
      case "print_offered": {
        const pages = Number(event.pages) ? `, ${event.pages} page(s)` : "";
        this.set(job, ".print-title", `${event.name || "Document"} (${Math.ceil(Number(event.size) / 1024)} KB${pages})`);
        this.set(job, ".print-state", "the customer wants to print this here");
        this.button(job, "Accept", "print-accept", () => {
          this.client.act((c) => c.accept_print(this.session, job));
          this.clear(job);
          this.set(job, ".print-state", "receiving…");
        });
        this.button(job, "Decline", "print-decline", () => {
          this.client.act((c) => c.decline_print(this.session, job));
          this.clear(job);
          this.set(job, ".print-state", "declined");
        });
        break;
      }
      case "print_ready":
        this.set(job, ".print-state", "arrived and verified");
        this.clear(job);
        this.button(job, "Download", "print-download", () => {
          const { url, name } = this.document(job);
          const a = document.createElement("a");
          a.href = url;
          a.download = name;
          a.click();
        });
        this.button(job, "Print…", "print-open", () => {
          // The browser's own viewer prints it on this computer's printer.
          window.open(this.document(job).url, "_blank", "noopener");
        });
        break;
      case "print_ended":
        this.clear(job);
        this.set(job, ".print-state", `ended: ${event.detail || "cancelled"}`);
        break;
    }
  }
}
