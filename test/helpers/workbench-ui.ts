/**
 * Driving the workbench as a person does, for the UI suites: the command palette, the quick input
 * that asks questions, and finding a webview's page among the frames.
 */
import type { Frame, Page } from 'playwright-core';

export async function runCommand(page: Page, title: string): Promise<void> {
  await page
    .locator('.monaco-workbench')
    .click({ position: { x: 700, y: 300 } })
    .catch(() => {});
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input.input');
  await input.waitFor();
  await input.fill(`>${title}`);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor();
  await page.keyboard.press('Enter');
}

/** Answers the quick input whose title contains `title` (waiting for it: the widget is reused between questions). */
export async function answer(page: Page, title: string, text: string | null, pickRow?: string): Promise<void> {
  const widget = page.locator('.quick-input-widget');
  await widget.locator('.quick-input-title', { hasText: title }).waitFor({ state: 'visible' });
  if (pickRow) await widget.locator('.quick-input-list .monaco-list-row', { hasText: pickRow }).first().waitFor();
  if (text !== null) await widget.locator('input.input').fill(text);
  await page.keyboard.press('Enter');
  await widget.locator('.quick-input-title', { hasText: title }).waitFor({ state: 'hidden' });
}

/** The frame (a webview's page sits in a frame inside the webview's own) whose document has `selector`. */
export async function frameWith(page: Page, selector: string, timeoutMs = 30_000): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const frame of page.frames()) {
      const found = await frame.evaluate((s) => !!document.querySelector(s), selector).catch(() => false);
      if (found) return frame;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no frame has ${selector}`);
}
