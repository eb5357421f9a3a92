// Types for opa-reveal.js, the browser-side reveal helper.

/** Key kinds the helper generates. RSA keys use RSA-OAEP-256, EC keys ECDH-ES; both with A256GCM. */
export type KeyKind = "P-256" | "P-384" | "RSA-2048" | "RSA-3072";

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

/** A private JWK: a secret. */
export interface PrivateJwk extends PublicJwk {
  d: string;
  p?: string;
  q?: string;
  dp?: string;
  dq?: string;
  qi?: string;
}

/** The error every rejection carries. decrypt_failed never says why. */
export interface OpaRevealError extends Error {
  code: "invalid_argument" | "unknown_key" | "decrypt_failed" | "internal" | "load_failed";
}

export interface GeneratedKey {
  /** Opaque reference to the private key held inside the WASM module. */
  handle: string;
  publicJwk: PublicJwk;
}

export interface OpaRevealApi {
  generateKey(options?: { kind?: KeyKind } | null): Promise<GeneratedKey>;
  publicJwk(handle: string): Promise<PublicJwk>;
  exportPrivateJwk(handle: string): Promise<PrivateJwk>;
  decrypt(jwe: string, handle: string): Promise<string>;
  destroyKey(handle: string): Promise<void>;
  close(): Promise<void>;
}

export function load(source?: string | URL | Response | BufferSource): Promise<OpaRevealApi>;
export function generateKey(options?: { kind?: KeyKind } | null): Promise<GeneratedKey>;
export function publicJwk(handle: string): Promise<PublicJwk>;
export function exportPrivateJwk(handle: string): Promise<PrivateJwk>;
export function decrypt(jwe: string, handle: string): Promise<string>;
export function destroyKey(handle: string): Promise<void>;
export function close(): Promise<void>;
