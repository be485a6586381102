import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's chromium (`apt-get install chromium`), driven by playwright-core: no browser download. */
export const CHROMIUM = '/usr/bin/chromium';

/** Why a browser suite is skipped, or false when the browser is there. */
export const noBrowser: string | false = existsSync(CHROMIUM) ? false : `no browser at ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`;

/** Starts the browser headless, without the sandbox (containers) and the traffic of its own (updates,
 * sync, QUIC) that would make a suite's network slower or less predictable. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Waits (10 s at most) until `predicate`, evaluated in the page, is true; the error names `what`. */
export async function waitInPage(page: Page, predicate: string, what: string): Promise<void> {
  try {
    await page.waitForFunction(predicate, undefined, { timeout: 10_000 });
  } catch (err) {
    throw new Error(`timed out waiting for ${what}: ${String(err)}`);
  }
}
