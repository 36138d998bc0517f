/** The widget's DOM helpers: finding its markup, making elements and icons. */

/** The element matching `selector` under `root` (the widget's shadow root); throws when the markup lacks it. */
export function find<T extends Element>(root: ParentNode, selector: string): T {
  const element = root.querySelector<T>(selector);
  if (!element) throw new Error(`widget markup is missing ${selector}`);
  return element;
}

export function element(tag: string, className: string, text?: string): HTMLElement {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function icon(name: "check" | "clock"): SVGSVGElement {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", "tick");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", name === "check" ? "M5 12.5l4.5 4.5L19 7.5" : "M12 7v5l3 2M21 12a9 9 0 1 1-18 0 9 9 0 0 1 18 0z");
  svg.append(path);
  return svg;
}

/** Three dots that bounce (still under `prefers-reduced-motion`), with words for screen readers. */
export function typingIndicator(): HTMLElement {
  const indicator = element("span", "typing");
  const dots = element("span", "dots");
  dots.setAttribute("aria-hidden", "true");
  dots.append(document.createElement("i"), document.createElement("i"), document.createElement("i"));
  indicator.append(dots, element("span", "visually-hidden", "typing…"));
  return indicator;
}
