import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium: browser tests never download one. */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Headless Chromium as these machines run it (as root: no sandbox; no GPU, no background
 * networking, no first-run pages). Playwright gives each launch a fresh temporary profile.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--no-first-run',
    ],
  });
}
