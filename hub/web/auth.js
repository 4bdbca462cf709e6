/**
 * The viewer token: taken from the URL fragment (#token=...) or the login form, kept in this browser's
 * localStorage, and the form that asks for it.
 */
import { $ } from './dom.js';

const TOKEN_KEY = 'sightline-token';

/** @type {string | null} */
let token = null;

/**
 * Reads the token: a #token=... fragment (stored, then removed from the address bar) or the stored one.
 * @returns {string | null}
 */
export function takeToken() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
  if (fromHash) {
    localStorage.setItem(TOKEN_KEY, fromHash);
    history.replaceState(null, '', location.pathname);
  }
  token = localStorage.getItem(TOKEN_KEY);
  return token;
}

/** The token requests and signalling use (null: none yet). */
export const currentToken = () => token;

/**
 * Shows the login form with the reason it is needed.
 * @param {string} why
 */
export function showLogin(why) {
  $('login').hidden = false;
  $('login-why').textContent = why;
}

/**
 * Wires the login form: a submitted token is stored, the form hidden, then `onToken` runs.
 * @param {() => void} onToken
 */
export function wireLogin(onToken) {
  $('login').addEventListener('submit', (e) => {
    e.preventDefault();
    token = /** @type {HTMLInputElement} */ ($('token')).value.trim();
    localStorage.setItem(TOKEN_KEY, token);
    $('login').hidden = true;
    onToken();
  });
}
