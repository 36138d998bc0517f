/**
 * The entry of `/widget/scrollback-chat.js`, the one script a site embeds:
 * the SDK (global `Scrollback`, as `/widget/scrollback.js` has it) and the
 * `<scrollback-chat>` element, defined once even if the script is loaded twice.
 */
import { ScrollbackChatElement } from "./element.js";

export * from "@scrollback/client";
export { ScrollbackChatElement };

if (!customElements.get("scrollback-chat")) customElements.define("scrollback-chat", ScrollbackChatElement);
