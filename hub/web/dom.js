/** Small DOM helpers of the viewer's modules. */

/**
 * The page's element with this id (viewer.html has them all).
 * @param {string} id
 * @returns {HTMLElement}
 */
export function $(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`viewer: the page has no #${id}`);
  return el;
}

/** @type {Record<string, string>} */
const ENTITIES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * Text made safe to put in HTML (element content or a quoted attribute).
 * @param {unknown} s
 * @returns {string}
 */
export const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);

/**
 * The message of a thrown value.
 * @param {unknown} err
 * @returns {string}
 */
export const messageOf = (err) => (err instanceof Error ? err.message : String(err));
