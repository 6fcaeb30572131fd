// A list of items with a title, a state line and action buttons, one per
// transfer or print job: what the files panel and the print inbox share.

export class ItemList {
  private readonly rows = new Map<string, HTMLElement>();

  constructor(
    private readonly list: HTMLElement,
    private readonly prefix: string,
    private readonly report: (text: string) => void,
  ) {}

  /** The row of `key`, made (empty, at the end) when new. */
  row(key: string): HTMLElement {
    let row = this.rows.get(key);
    if (!row) {
      row = document.createElement("li");
      row.dataset.key = key;
      for (const part of ["title", "bar", "state", "actions"]) {
        const element = document.createElement(part === "bar" ? "progress" : "div");
        element.className = `${this.prefix}-${part}`;
        if (element instanceof HTMLProgressElement) {
          element.max = 1;
          element.value = 0;
          element.hidden = true;
        }
        row.append(element);
      }
      this.list.append(row);
      this.rows.set(key, row);
    }
    return row;
  }

  private part(key: string, part: string): HTMLElement {
    return this.row(key).querySelector(`.${this.prefix}-${part}`) as HTMLElement;
  }

  /** Sets the title line. */
  title(key: string, text: string): void {
    this.part(key, "title").textContent = text;
  }

  /** Sets the state line. */
  state(key: string, text: string): void {
    this.part(key, "state").textContent = text;
  }

  /** Shows progress from 0 to 1. */
  progress(key: string, fraction: number): void {
    const bar = this.part(key, "bar") as HTMLProgressElement;
    bar.hidden = false;
    bar.value = fraction;
  }

  /** Adds an action button; its errors are reported in plain words. */
  button(key: string, label: string, testid: string, act: () => void): void {
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
    this.part(key, "actions").append(button);
  }

  /** Removes the row's buttons. */
  clear(key: string): void {
    this.part(key, "actions").replaceChildren();
  }

  /** Whether `key` has a row. */
  has(key: string): boolean {
    return this.rows.has(key);
  }
}
