// A session's print inbox: what the customer prints comes here. Accept or
// decline each job; a verified document can be downloaded or opened in a
// new tab to print on this computer's printer.

import type { ConsoleEvent, RsupportClient } from "../client/client.js";
import { ItemList } from "./rows.js";

export class PrintPanel {
  private readonly jobs: ItemList;

  constructor(
    private readonly client: RsupportClient,
    private readonly session: string,
    panel: HTMLElement,
    report: (text: string) => void,
  ) {
    this.jobs = new ItemList(panel.querySelector(".print-list") as HTMLElement, "print", report);
    client.on((event) => {
      if (event.session === session) this.onEvent(event);
    });
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
    const jobs = this.jobs;
    switch (event.type) {
      case "print_offered": {
        const pages = Number(event.pages) ? `, ${event.pages} page(s)` : "";
        jobs.title(job, `${event.name || "Document"} (${Math.ceil(Number(event.size) / 1024)} KB${pages})`);
        jobs.state(job, "the customer wants to print this here");
        jobs.button(job, "Accept", "print-accept", () => {
          this.client.act((c) => c.accept_print(this.session, job));
          jobs.clear(job);
          jobs.state(job, "receiving…");
        });
        jobs.button(job, "Decline", "print-decline", () => {
          this.client.act((c) => c.decline_print(this.session, job));
          jobs.clear(job);
          jobs.state(job, "declined");
        });
        break;
      }
      case "print_ready":
        jobs.state(job, "arrived and verified");
        jobs.clear(job);
        jobs.button(job, "Download", "print-download", () => {
          const { url, name } = this.document(job);
          const a = document.createElement("a");
          a.href = url;
          a.download = name;
          a.click();
        });
        jobs.button(job, "Print…", "print-open", () => {
          // The browser's own viewer prints it on this computer's printer.
          window.open(this.document(job).url, "_blank", "noopener");
        });
        break;
      case "print_ended":
        jobs.clear(job);
        jobs.state(job, `ended: ${event.detail || "cancelled"}`);
        break;
    }
  }
}
