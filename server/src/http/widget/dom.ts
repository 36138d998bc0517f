/** The widget's DOM helpers: finding its markup, making elements and icons. */

/** The element matching `selector` under `root` (the widget's shadow root); throws when the markup lacks it. */
export function find<T extends Element>(root: ParentNode, selector: string): T {
  const element = root.querySelector<T>(selector);
  if (!element) throw new Error(`widget markup is missing ${selector}`);
  return element;
}

/** Attribute values by name; `true` is present and empty (`hidden`, `disabled`). */
export type Attributes = Record<string, string | true>;

/**
 * `tag` with `attributes` and `children`, strings as text nodes: the widget
 * never parses HTML, so a page enforcing Trusted Types
 * (`require-trusted-types-for 'script'`) needs no policy for it.
 */
export function make(tag: string, attributes: Attributes, ...children: (Node | string)[]): HTMLElement {
  return fill(document.createElement(tag), attributes, children);
}

/** The same for an SVG element (`svg`, `path`, `rect`). */
export function makeSvg(tag: string, attributes: Attributes, ...children: Node[]): SVGElement {
  return fill(document.createElementNS("http://www.w3.org/2000/svg", tag), attributes, children);
}

function fill<T extends Element>(node: T, attributes: Attributes, children: (Node | string)[]): T {
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value === true ? "" : value);
  node.append(...children);
  return node;
}

/** {@link make} for the common case: one class, and text if any. */
export function element(tag: string, className: string, text?: string): HTMLElement {
  return text === undefined ? make(tag, { class: className }) : make(tag, { class: className }, text);
}

export function icon(name: "check" | "clock"): SVGElement {
  const path = name === "check" ? "M5 12.5l4.5 4.5L19 7.5" : "M12 7v5l3 2M21 12a9 9 0 1 1-18 0 9 9 0 0 1 18 0z";
  return makeSvg("svg", { viewBox: "0 0 24 24", class: "tick", "aria-hidden": "true" }, makeSvg("path", { d: path }));
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
