// The checks every request to the agent passes before a handler sees it: who may call (the bearer
// token), from where (the Host a browser was pointed at, the Origin of the page that sent it) and with
// what body (JSON only, nested no deeper than a bound). Pure functions, so each rule has a unit test.
import { timingSafeEqual } from 'node:crypto';

/** Deeper JSON is refused with 400: no spec needs it, and deep nesting costs stack in every decoder. */
export const MAX_JSON_DEPTH = 64;

/** The token of an `Authorization: Bearer <token>` header; the scheme is case-insensitive (RFC 7235). */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^bearer[ \t]+(\S.*)$/i.exec(header?.trim() ?? '');
  return match?.[1]?.trim();
}

/** Compares in constant time for equal lengths, so the answer time does not give the token away. */
export function tokenMatches(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** `host[:port]` of a Host header (or a URL's host) → the lower-case host name, IPv6 without brackets. */
export function hostName(hostHeader: string): string {
  const text = hostHeader.trim().toLowerCase();
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    return end > 0 ? text.slice(1, end) : text;
  }
  const colon = text.indexOf(':');
  // More than one colon without brackets is a bare IPv6 address.
  if (colon >= 0 && text.indexOf(':', colon + 1) < 0) return text.slice(0, colon);
  return text;
}

export function isLoopbackName(name: string): boolean {
  return (
    name === 'localhost' ||
    name.endsWith('.localhost') ||
    name === '::1' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name)
  );
}

/**
 * Whether a request's Host names this agent: a loopback name or one of `configured` (the listen and
 * advertise hosts). Anything else is how DNS rebinding looks: a page of attacker.example whose name now
 * resolves to 127.0.0.1. A request without Host (HTTP/1.0, no browser sends one) is let through.
 */
export function hostAllowed(hostHeader: string | undefined, configured: ReadonlySet<string>): boolean {
  if (hostHeader === undefined || hostHeader === '') return true;
  const name = hostName(hostHeader);
  return isLoopbackName(name) || configured.has(name);
}

/**
 * Whether the Origin of a request is the agent's own (`scheme://` + the Host it was sent to). Browsers
 * send Origin on every cross-origin request and on same-origin state changes; no Origin means no page
 * of another site sent it (curl, the CLI). `null` (sandboxed frames, file:) is foreign.
 */
export function originAllowed(
  origin: string | undefined,
  hostHeader: string | undefined,
  scheme: 'http' | 'https',
): boolean {
  if (origin === undefined) return true;
  if (hostHeader === undefined) return false;
  return origin.trim().toLowerCase() === `${scheme}://${hostHeader.trim().toLowerCase()}`;
}

/** `application/json` with any parameters (`; charset=utf-8`); nothing else is parsed as JSON. */
export function isJsonContentType(header: string | undefined): boolean {
  return header !== undefined && /^application\/json\s*(;|$)/i.test(header.trim());
}

/**
 * Whether `text` nests arrays and objects more than `limit` deep (brackets inside strings do not
 * count). Checked before JSON.parse, linear in the text and without recursion.
 */
export function jsonDepthOver(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}
