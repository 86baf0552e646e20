/**
 * Base64 decoding for data the guest sends over the serial data channel (no jsr @std/encoding here).
 *
 * @module
 */

/** Decodes standard base64 (whitespace must already be removed). */
export function decodeBase64(text: string): Uint8Array {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
