// The files panel of a session: send files from this computer, answer the
// customer's offers, watch progress, and save what arrived (verified by
// SHA-256 in the console before it is offered for saving).

import type { ConsoleEvent, RsupportClient } from "../client/client.js";
import { ItemList } from "./rows.js";

function size(bytes: number): string {
  const units = ["B", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

export class FilePanel {
  private readonly list: HTMLElement;
  private readonly transfers: ItemList;

  constructor(
    private readonly client: RsupportClient,
    private readonly session: string,
    panel: HTMLElement,
    private readonly report: (text: string) => void,
  ) {
    this.list = panel.querySelector(".file-list") as HTMLElement;
    this.transfers = new ItemList(this.list, "file", report);
    const picker = panel.querySelector(".file-picker") as HTMLInputElement;
    picker.addEventListener("change", () => {
      const files = Array.from(picker.files ?? []);
      picker.value = "";
      if (!files.length) return;
      try {
        const transfer = client.offerFiles(session, files);
        const total = files.reduce((n, f) => n + f.size, 0);
        const names = files.map((f) => f.name).join(", ");
        this.transfers.title(transfer, `To the customer: ${names} (${size(total)})`);
        this.transfers.state(transfer, "waiting for the customer to accept…");
      } catch (e) {
        report(e instanceof Error ? e.message : String(e));
      }
    });
    client.on((event) => {
      if (event.session === session) this.onEvent(event);
    });
  }

  private onEvent(event: ConsoleEvent): void {
    const transfer = String(event.transfer ?? "");
    const rows = this.transfers;
    switch (event.type) {
      case "file_offer": {
        const entries = event.entries as { path: string; size: number }[];
        const names = entries.map((e) => e.path).join(", ");
        rows.title(transfer, `From the customer: ${names} (${size(Number(event.total_size))})`);
        rows.state(transfer, "offered");
        if (!event.auto_accepted) {
          rows.button(transfer, "Accept", "file-accept", () => {
            this.client.act((c) => c.accept_files(this.session, transfer));
            rows.clear(transfer);
            rows.state(transfer, "accepted");
          });
          rows.button(transfer, "Decline", "file-decline", () => {
            this.client.act((c) => c.decline_files(this.session, transfer));
            rows.clear(transfer);
            rows.state(transfer, "declined");
          });
        }
        break;
      }
      case "file_accepted":
        rows.state(transfer, "accepted; sending…");
        rows.button(transfer, "Cancel", "file-cancel", () =>
          this.client.act((c) => c.cancel_files(this.session, transfer)),
        );
        break;
      case "file_declined":
        rows.state(transfer, `declined: ${event.reason}`);
        rows.clear(transfer);
        break;
      case "file_progress": {
        const total = Number(event.total);
        rows.progress(transfer, total ? Number(event.done) / total : 1);
        const eta = event.eta_s === null ? "" : `, ${event.eta_s} s left`;
        rows.state(transfer, `${size(Number(event.done))} of ${size(total)} (${size(Number(event.rate))}/s${eta})`);
        break;
      }
      case "file_entry_failed":
        rows.state(transfer, `a file failed: ${event.error}`);
        break;
      case "file_finished":
        rows.progress(transfer, 1);
        rows.state(transfer, Number(event.failed) ? `done; ${event.failed} failed` : "done");
        rows.clear(transfer);
        break;
      case "file_cancelled":
        rows.state(transfer, `stopped${event.by_peer ? " by the customer" : ""}: ${event.reason}`);
        rows.clear(transfer);
        break;
      case "download_ready":
        this.offerSave(String(event.download), String(event.name), Number(event.size));
        break;
    }
  }
  // A verified file from the customer: the page hands it to the browser's
  // own download when the operator asks, then the console forgets it.
  private offerSave(download: string, name: string, bytes: number): void {
    const item = document.createElement("li");
    const link = document.createElement("a");
    const base = name.split("/").pop() || "download";
    link.textContent = `Save ${name} (${size(bytes)})`;
    link.href = "#";
    link.dataset.testid = "file-save";
    link.addEventListener("click", (e) => {
      e.preventDefault();
      try {
        const data = this.client.act((c) => c.take_download(this.session, download));
        const url = URL.createObjectURL(new Blob([data as Uint8Array<ArrayBuffer>]));
        const a = document.createElement("a");
        a.href = url;
        a.download = base;
        a.click();
        setTimeout(() => URL.revokeObjectURL(url), 60_000);
        link.replaceWith(document.createTextNode(`Saved ${name}`));
      } catch (err) {
        this.report(err instanceof Error ? err.message : String(err));
      }
    });
    item.append(link);
    this.list.append(item);
  }
}
