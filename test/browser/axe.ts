/** axe-core in a page, for the browser tests' accessibility checks (PROTOCOL.md §6). */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";

const AXE_SOURCE = readFileSync(fileURLToPath(import.meta.resolve("axe-core/axe.min.js")), "utf8");

/** Waits until the page's animations (a new message rising in) have finished; the widget's run in its shadow root. */
export const settled = (page: Page) =>
  page.waitForFunction(() =>
    [...document.getAnimations(), ...(document.querySelector("scrollback-chat")?.shadowRoot?.getAnimations() ?? [])].every(
      (animation) => animation.playState !== "running" || animation.effect?.getTiming().iterations === Infinity,
    ),
  );

export interface Violation {
  id: string;
  impact: string;
  targets: string[];
}

/** axe-core's serious and critical violations on the page, open shadow roots included. */
export async function seriousViolations(page: Page): Promise<Violation[]> {
  await settled(page);
  // Evaluated through the DevTools protocol, so the page's CSP (no inline or foreign scripts) does not stop it.
  if (!(await page.evaluate(() => "axe" in window))) await page.evaluate(AXE_SOURCE);
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: typeof import("axe-core") }).axe;
    const results = await axe.run(document, { resultTypes: ["violations"] });
    return results.violations
      .filter((violation) => violation.impact === "serious" || violation.impact === "critical")
      .map((violation) => ({
        id: violation.id,
        impact: violation.impact ?? "",
        targets: violation.nodes.map((node) => JSON.stringify(node.target)),
      }));
  });
}
