// Types for @opakit/opa-reveal (opa-reveal.js), the browser half of a password reveal.

/** A public JWK as sent in a reveal request's public_key. It never has private members. */
export interface PublicJwk {
  kty: "EC" | "RSA";
  kid: string;
  alg: "ECDH-ES" | "RSA-OAEP-256";
  use: "enc";
  crv?: "P-256" | "P-384";
  x?: string;
  y?: string;
  n?: string;
  e?: string;
}

/** A private JWK (exportPrivateJwk of an extractable key): a secret. */
export interface PrivateJwk extends JsonWebKey {
  d: string;
}

/** The stable codes of OpaRevealError. */
export type ErrorCode =
  | "not_loaded"
  | "load_failed"
  | "invalid_argument"
  | "unknown_key"
  | "decrypt_failed"
  | "not_extractable"
  | "webcrypto_unavailable"
  | "unsupported"
  | "http_error"
  | "storage_failed"
  | "closed"
  | "internal";

/** The error of every rejection. decrypt_failed never says why. */
export class OpaRevealError extends Error {
  readonly name: "OpaRevealError";
  readonly code: ErrorCode;
  /** The HTTP status, for http_error (0 when the request itself failed). */
  readonly status?: number;
}

export type GenerateKeyOptions =
  | { alg?: "ECDH-ES"; crv?: "P-256" | "P-384"; extractable?: boolean; inGo?: boolean }
  | { alg: "RSA-OAEP-256"; modulusLength?: 2048 | 3072; extractable?: boolean; inGo?: false };

/** An opaque, frozen key handle. Only handles made by this module decrypt. */
export interface KeyHandle {
  readonly alg: "ECDH-ES" | "RSA-OAEP-256";
  readonly crv?: "P-256" | "P-384";
  readonly modulusLength?: 2048 | 3072;
  readonly extractable: boolean;
  /** The key is held in the WebAssembly module's memory (generateKey({inGo: true})). */
  readonly inGo: boolean;
  readonly publicJwk: Readonly<PublicJwk>;
  /** The private key, non-extractable unless generated with extractable: true; null when inGo. */
  readonly privateKey: CryptoKey | null;
}

export interface RevealOptions {
  /** The server's base URL; "" (default) for the page's own origin. */
  baseURL?: string;
  /** A bearer token (the service_token exchange's bearer_token). */
  token: string;
  /** The reveal_credentials path, e.g. /v1/teams/T/active_directory/C/accounts/A/reveal_credentials. */
  path: string;
  /** One of the account's user_access_methods, as listed. */
  userAccessMethod: object;
  /** A key to use; by default a fresh ECDH-ES P-256 key, destroyed afterwards. */
  key?: KeyHandle;
  /** The fetch to use (default globalThis.fetch). */
  fetch?: typeof fetch;
}

export function load(wasm?: string | URL | Response | BufferSource): Promise<void>;
export function generateKey(options?: GenerateKeyOptions): Promise<KeyHandle>;
export function decrypt(handle: KeyHandle, jwe: string): Promise<string>;
export function exportPrivateJwk(handle: KeyHandle): Promise<PrivateJwk>;
export function destroyKey(handle: KeyHandle): Promise<void>;
export function reveal(options: RevealOptions): Promise<string>;
export function storeKey(handle: KeyHandle, name: string): Promise<void>;
export function loadStoredKey(name: string): Promise<KeyHandle | null>;
export function deleteStoredKey(name: string): Promise<void>;
export function close(): Promise<void>;
