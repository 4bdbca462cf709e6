/**
 * Content-Security-Policy violations in a browser context: every page's `securitypolicyviolation` events and
 * chromium's console reports ("Refused to ... because it violates the following Content Security Policy ...").
 */
import type { BrowserContext } from 'playwright-core';

/** Starts collecting the violations of every page the context opens from now on; returns the live list. */
export async function watchCspViolations(context: BrowserContext): Promise<string[]> {
  const violations: string[] = [];
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) =>
      console.error(
        `CSP violation: ${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`,
      ),
    );
  });
  context.on('console', (msg) => {
    if (/Content Security Policy|CSP violation/i.test(msg.text())) {
      violations.push(`${msg.page()?.url() ?? '?'}: ${msg.text()}`);
    }
  });
  return violations;
}
