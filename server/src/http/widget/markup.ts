/**
 * The markup of `<scrollback-chat>`'s shadow root, built afresh for every
 * session so that no listener or node of an earlier session survives.
 * Built with DOM calls, not parsed from an HTML string: an HTML string would
 * need a Trusted Types policy on pages that enforce them (PROTOCOL.md §6).
 * Test ids are part of the contract (PROTOCOL.md §6).
 */
// Short names: the calls below read as the tree they build.
import { make as h, makeSvg as svg } from "./dom.js";

const ICON = { viewBox: "0 0 24 24", "aria-hidden": "true" };

/** A new copy of the shadow root's markup, its gate and error line hidden. */
export function buildMarkup(): HTMLElement {
  return h(
    "section",
    { class: "shell", "aria-label": "Chat" },
    h(
      "header",
      { class: "topbar" },
      h(
        "div",
        { class: "brand" },
        svg(
          "svg",
          { class: "logo", viewBox: "0 0 32 32", "aria-hidden": "true" },
          svg("rect", { width: "32", height: "32", rx: "9" }),
          svg("path", { d: "M9 11h14M9 16h10M9 21h6" }),
        ),
        h("div", {}, h("p", { class: "title" }, "scrollback"), h("p", { class: "subtitle" }, "Your recent conversation, on every tab")),
      ),
      h(
        "div",
        { class: "session" },
        h(
          "span",
          { class: "status", "data-testid": "status", "data-status": "connecting", role: "status" },
          h("i", { "aria-hidden": "true" }),
          h("span", {}, "Connecting…"),
        ),
        h("button", { class: "user-chip", type: "button", "data-testid": "user", title: "Switch user", hidden: true }),
        h(
          "button",
          {
            class: "icon-button",
            type: "button",
            "data-action": "clear",
            title: "Clear history",
            "aria-label": "Clear history",
            hidden: true,
          },
          svg("svg", ICON, svg("path", { d: "M4 7h16M10 11v6M14 11v6M6 7l1 12a2 2 0 0 0 2 2h6a2 2 0 0 0 2-2l1-12M9 7V4h6v3" })),
        ),
      ),
    ),
    h(
      "div",
      { class: "log", "data-testid": "log", role: "log", "aria-live": "polite", "aria-label": "Messages", tabindex: "0" },
      h(
        "div",
        { class: "empty", hidden: true },
        h("div", { class: "empty-art", "aria-hidden": "true" }, h("span", {}), h("span", {}), h("span", {})),
        h("p", { class: "empty-title" }, "No messages yet"),
        h("p", { class: "empty-text" }, "Say hello. Messages are kept for a day and show up live in your other tabs."),
      ),
      h("ol", { class: "messages" }),
    ),
    h(
      "footer",
      { class: "dock" },
      h("p", { class: "error", "data-testid": "error", role: "alert", hidden: true }),
      h(
        "form",
        { class: "composer", autocomplete: "off" },
        h("textarea", { "data-testid": "composer", rows: "1", placeholder: "Write a message…", "aria-label": "Message", disabled: true }),
        h(
          "button",
          { class: "send", type: "submit", "data-testid": "send", "aria-label": "Send", disabled: true },
          svg("svg", ICON, svg("path", { d: "M4 12l16-8-6 16-2.5-6.5z" }), svg("path", { d: "M11.5 13.5L20 4" })),
        ),
      ),
      h(
        "p",
        { class: "hint" },
        h("kbd", {}, "Enter"),
        " to send · ",
        h("kbd", {}, "Shift"),
        "+",
        h("kbd", {}, "Enter"),
        " for a new line · written offline, sent when you are back",
      ),
    ),
    h(
      "div",
      { class: "gate", hidden: true },
      h(
        "form",
        { class: "card sign-in", "data-gate": "dev", hidden: true },
        h("h2", {}, "Who are you?"),
        h(
          "p",
          {},
          "This server runs in dev mode: pick any user id to try the widget. Open a second tab with the same id to see messages arrive live.",
        ),
        h("label", { for: "user-id" }, "User id"),
        h("input", {
          id: "user-id",
          name: "userId",
          "data-testid": "user-id",
          required: true,
          maxlength: "128",
          placeholder: "e.g. team_lead_001",
          autocomplete: "username",
          spellcheck: "false",
        }),
        h("small", {}, "Letters, digits and ", h("code", {}, "_ . @ : -")),
        h("button", { type: "submit", "data-testid": "start" }, "Start chatting"),
      ),
      h(
        "div",
        { class: "card", "data-gate": "token", hidden: true },
        h("h2", {}, "Sign-in needed"),
        h(
          "p",
          {},
          "This widget has no credentials yet: give it a ",
          h("code", {}, "token-url"),
          " or a ",
          h("code", {}, "getToken"),
          " function (or, on the demo page, open it with ",
          h("code", {}, "#token=<JWT>"),
          " or ",
          h("code", {}, "?tokenUrl=/path"),
          ").",
        ),
      ),
    ),
  );
}
