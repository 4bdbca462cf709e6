/**
 * `${NAME}` substitution in config files (secrets such as RTSP passwords and tokens stay in the environment).
 *
 * Runs on the parsed document, on string values only (never on keys, and never on the file's text), so a value
 * with YAML- or JSON-special characters cannot change the document's structure; a substituted value is always a
 * string. `${NAME}` is the variable's value (an error when it is unset), `${NAME:-default}` the value or, when
 * it is unset or empty, `default`; `$${` is a literal `${`. Names are letters, digits and _, not starting with a
 * digit. Errors name the config path and the variable, never a value: every string built from variables is shown
 * as its template with each reference replaced by `<from $NAME>`.
 */

/** A string value of the config that was built from variables. */
export interface Substitution {
  /** Where it is, e.g. ['streams', 0, 'source']. */
  path: (string | number)[];
  /** The value as shown in messages: the file's text with each reference as `<from $NAME>`. */
  display: string;
  /** The value after substitution. */
  value: string;
  /** The variables it used, with the values they gave (from the environment or the default). */
  vars: { name: string; value: string }[];
}

/** The outcome of substituting a parsed document. */
export interface SubstitutionResult {
  /** A copy of the document with every string value substituted. */
  data: unknown;
  substitutions: Substitution[];
  /** "path: problem" for each missing variable or malformed reference (empty when all went well). */
  issues: string[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The dotted path of a value as config errors write it, e.g. "streams.0.source" ("(root)" for the root). */
export function formatPath(path: readonly (string | number)[]): string {
  return path.length ? path.join('.') : '(root)';
}

/** Substitute `${NAME}` / `${NAME:-default}` / `$${` in every string value of a parsed config document. */
export function substituteEnv(
  data: unknown,
  env: Readonly<Record<string, string | undefined>>,
): SubstitutionResult {
  const substitutions: Substitution[] = [];
  const issues: string[] = [];
  const walk = (value: unknown, path: (string | number)[]): unknown => {
    if (typeof value === 'string') {
      if (!value.includes('${')) return value;
      const r = substituteString(value, env);
      if (r.issues.length) {
        issues.push(...r.issues.map((i) => `${formatPath(path)}: ${i}`));
        return value;
      }
      if (r.vars.length) substitutions.push({ path, display: r.display, value: r.value, vars: r.vars });
      return r.value;
    }
    if (Array.isArray(value)) return value.map((v, i) => walk(v, [...path, i]));
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = walk(v, [...path, k]);
      return out;
    }
    return value;
  };
  return { data: walk(data, []), substitutions, issues };
}

/** One string: its value, its display form, the variables used and the problems found. */
function substituteString(
  text: string,
  env: Readonly<Record<string, string | undefined>>,
): { value: string; display: string; vars: { name: string; value: string }[]; issues: string[] } {
  let value = '';
  let display = '';
  const vars: { name: string; value: string }[] = [];
  const issues: string[] = [];
  const ref = /\$\$\{|\$\{/g;
  let last = 0;
  for (let m = ref.exec(text); m; m = ref.exec(text)) {
    const literal = text.slice(last, m.index);
    value += literal;
    display += literal;
    if (m[0] === '$${') {
      value += '${';
      display += '${';
      last = ref.lastIndex;
      continue;
    }
    const close = text.indexOf('}', ref.lastIndex);
    if (close < 0) {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the config files' literal ${ syntax
      issues.push('"${" without a closing "}" (write "$${" for a literal "${")');
      break;
    }
    const body = text.slice(ref.lastIndex, close);
    const sep = body.indexOf(':-');
    const name = sep < 0 ? body : body.slice(0, sep);
    const fallback = sep < 0 ? undefined : body.slice(sep + 2);
    last = close + 1;
    ref.lastIndex = close + 1;
    if (!NAME.test(name)) {
      issues.push(
        `"\${${body}}" is not a variable reference: use \${NAME} or \${NAME:-default} (NAME: letters, digits, _), or "$\${" for a literal "\${"`,
      );
      continue;
    }
    const fromEnv = env[name];
    let got: string;
    if (fallback !== undefined && (fromEnv === undefined || fromEnv === '')) got = fallback;
    else if (fromEnv === undefined) {
      issues.push(`environment variable ${name} is not set (give it a default with \${${name}:-default})`);
      continue;
    } else got = fromEnv;
    vars.push({ name, value: got });
    value += got;
    display += `<from $${name}>`;
  }
  const rest = text.slice(last);
  value += rest;
  display += rest;
  return { value, display, vars, issues };
}

/**
 * Remove every value that came from variables from a message: each substituted string becomes its display form
 * and each variable's value `<from $NAME>` (values shorter than 4 characters are left: they cannot be told from
 * the message's own words, and hide nothing worth hiding).
 */
export function redactSubstituted(message: string, substitutions: readonly Substitution[]): string {
  let out = message;
  const bySize = [...substitutions].sort((a, b) => b.value.length - a.value.length);
  for (const s of bySize) if (s.value) out = out.split(s.value).join(s.display);
  const vars = substitutions
    .flatMap((s) => s.vars)
    .filter((v) => v.value.length >= 4)
    .sort((a, b) => b.value.length - a.value.length);
  for (const v of vars) out = out.split(v.value).join(`<from $${v.name}>`);
  return out;
}

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

/**
 * Problems of stream source URLs built from variables, caught here so that no later message can show a secret:
 * such a URL (other than file:// and whip://) must parse, have a host, and hold no "@" but the one that ends its
 * credentials (the password is hidden in logs as the text between "user:" and that "@", so a raw "@", "/", "?" or
 * "#" in a password must be percent-encoded: %40, %2F, %3F, %23).
 */
export function substitutedSourceIssues(substitutions: readonly Substitution[]): string[] {
  const issues: string[] = [];
  for (const s of substitutions) {
    const [streams, , field] = s.path;
    if (s.path.length !== 3 || streams !== 'streams' || field !== 'source') continue;
    const scheme = SCHEME.exec(s.value)?.[1]?.toLowerCase();
    if (!scheme || scheme === 'file' || scheme === 'whip') continue;
    const where = formatPath(s.path);
    let url: URL | undefined;
    try {
      url = new URL(s.value);
    } catch {
      url = undefined;
    }
    if (!url?.hostname) {
      issues.push(
        `${where}: not a valid URL: ${s.display} (percent-encode reserved characters in user names and passwords)`,
      );
      continue;
    }
    const rest = s.value.slice(s.value.indexOf('://') + 3);
    const authorityEnd = rest.search(/[/?#]/);
    const authority = authorityEnd < 0 ? rest : rest.slice(0, authorityEnd);
    const ats = rest.split('@').length - 1;
    if (ats > 1 || (ats === 1 && !authority.includes('@'))) {
      issues.push(
        `${where}: "@" may only end the credentials in ${s.display}: percent-encode "@", "/", "?" and "#" in user names and passwords (%40, %2F, %3F, %23)`,
      );
    }
  }
  return issues;
}
