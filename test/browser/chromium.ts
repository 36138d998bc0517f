/** Debian's Chromium driven by playwright-core (no downloaded browsers here). */
import { type Browser, chromium } from "playwright-core";

/** Where Chromium is; `.ci/run` installs Debian's package when it is missing. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
