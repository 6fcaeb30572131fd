// A session's tool row: drawing tools (pen, laser, label, undo, clear),
// screenshots, and the customer-side display settings (colours, monitor,
// scale, wallpaper, windows).

import type { ConsoleEvent, RsupportClient } from "../client/client.js";
import type { RsupportViewer } from "../viewer/rsupport-viewer.js";

function saveBlob(data: Uint8Array, name: string, type: string): void {
  const url = URL.createObjectURL(new Blob([data as Uint8Array<ArrayBuffer>], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export class ToolRow {
  constructor(
    private readonly client: RsupportClient,
    private readonly session: string,
    private readonly panel: HTMLElement,
    viewer: RsupportViewer,
    private readonly report: (text: string) => void,
  ) {
    const tools = panel.querySelectorAll<HTMLButtonElement>("button[data-tool]");
    for (const button of tools) {
      button.addEventListener("click", () => {
        viewer.tool = button.dataset.tool ?? "control";
        for (const b of tools) b.classList.toggle("active", b === button);
      });
    }
    const ink = panel.querySelector(".ink") as HTMLInputElement;
    ink.addEventListener("input", () => (viewer.color = ink.value));
    this.on(".undo", () => viewer.undo());
    this.on(".clear", () => viewer.clearDrawings());
    this.on(".screenshot", () => client.act((c) => c.request_screenshot(session)));
    this.on(".apply-display", () => this.applyDisplay());
    client.on((event) => {
      if (event.session === session) this.onEvent(event);
    });
  }

  private on(selector: string, act: () => void): void {
    (this.panel.querySelector(selector) as HTMLElement).addEventListener("click", () => {
      try {
        act();
      } catch (e) {
        this.report(e instanceof Error ? e.message : String(e));
      }
    });
  }

  private select(name: string): HTMLSelectElement {
    return this.panel.querySelector(`select.${name}`) as HTMLSelectElement;
  }

  private applyDisplay(): void {
    const windows = Array.from(this.select("windows").selectedOptions).map((o) => o.value);
    this.client.act((c) =>
      c.set_display(
        this.session,
        this.select("depth").value,
        Number(this.select("monitor").value),
        Number(this.select("remote-scale").value),
        (this.panel.querySelector(".wallpaper") as HTMLInputElement).checked,
        windows,
      ),
    );
    (this.panel.querySelector("details.display") as HTMLDetailsElement).open = false;
  }

  private onEvent(event: ConsoleEvent): void {
    switch (event.type) {
      case "monitors": {
        const list = event.list as { active: number; monitors: { id: number; name: string; width: number; height: number; primary: boolean }[] };
        const select = this.select("monitor");
        select.replaceChildren(new Option("as now", "0"));
        for (const m of list.monitors) {
          const label = `${m.name || `Monitor ${m.id}`} (${m.width}×${m.height})${m.primary ? ", primary" : ""}`;
          select.append(new Option(label, String(m.id), false, false));
        }
        break;
      }
      case "windows": {
        const select = this.select("windows");
        select.replaceChildren();
        for (const w of event.list as { id: string; title: string; application: string }[]) {
          select.append(new Option(`${w.title || "untitled"} — ${w.application}`, w.id));
        }
        break;
      }
      case "screenshot_ready": {
        const png = this.client.act((c) => c.take_screenshot(this.session));
        if (png.length) {
          const stamp = new Date().toISOString().replace(/[:.]/g, "-");
          saveBlob(png, `customer-screen-${stamp}.png`, "image/png");
        }
        break;
      }
    }
  }
}
