// Browser sign-in: an API key is exchanged once for a short-lived session token. Only the token is kept,
// in this tab's sessionStorage; it is renewed with itself before it expires. When renewal fails or a
// call is refused as UNAUTHENTICATED, the page returns to the sign-in form with the reason.
import { Code, ConnectError } from "@connectrpc/connect";
import { createApi, UNARY_TIMEOUT_MS, type Api } from "./api.js";

const STORAGE_KEY = "tickstock.session";
/** Lifetime asked for each token. Expiry and renewal count from when the answer arrived, by this
 * page's clock, so a server clock that differs from the browser's cannot make the page renew in a loop
 * or keep a token past its end. */
const TOKEN_TTL_S = 3600;
/** Renew when this share of the token's lifetime has passed. */
const RENEW_AT_FRACTION = 0.8;
/** Retry a failed renewal this often while the token is still valid. */
const RENEW_RETRY_MS = 15_000;

interface StoredSession {
  readonly server: string;
  readonly token: string;
  readonly user: string;
  readonly issuedMs: number;
  readonly expiresMs: number;
}

export class Session {
  readonly api: Api;
  private state: StoredSession;
  private renewTimer: number | undefined;
  private ended = false;

  private constructor(state: StoredSession, private readonly onEnd: (reason: string) => void) {
    this.state = state;
    this.api = createApi(state.server, () => this.state.token, (error) => this.end(describe(error)));
    this.scheduleRenewal();
  }

  get user(): string {
    return this.state.user;
  }

  /** Exchange an API key for a session token; the key is not kept anywhere. */
  static async signIn(server: string, apiKey: string, onEnd: (reason: string) => void): Promise<Session> {
    const base = normaliseServer(server);
    const api = createApi(base, () => apiKey);
    const answer = await api.auth.createSessionToken(tokenRequest(), { timeoutMs: UNARY_TIMEOUT_MS });
    const state = toStored(base, answer.token, answer.user);
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(state));
    return new Session(state, onEnd);
  }

  /** The session this tab signed in with, or a reason why there is none to continue. */
  static restore(onEnd: (reason: string) => void): Session | string {
    const raw = sessionStorage.getItem(STORAGE_KEY);
    if (raw === null) return "";
    try {
      const state = JSON.parse(raw) as StoredSession;
      if (typeof state.token !== "string" || typeof state.expiresMs !== "number") throw new Error("shape");
      if (state.expiresMs <= Date.now()) {
        sessionStorage.removeItem(STORAGE_KEY);
        return "Your session expired. Sign in again.";
      }
      return new Session(state, onEnd);
    } catch {
      sessionStorage.removeItem(STORAGE_KEY);
      return "";
    }
  }

  /** Forget the token and stop renewing; `reason` is shown on the sign-in form. */
  end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    window.clearTimeout(this.renewTimer);
    sessionStorage.removeItem(STORAGE_KEY);
    this.onEnd(reason);
  }

  private scheduleRenewal(): void {
    const lifetime = this.state.expiresMs - this.state.issuedMs;
    const at = this.state.issuedMs + lifetime * RENEW_AT_FRACTION;
    this.renewTimer = window.setTimeout(() => void this.renew(), Math.max(0, at - Date.now()));
  }

  private async renew(): Promise<void> {
    if (this.ended) return;
    try {
      const answer = await this.api.auth.createSessionToken(tokenRequest(), { timeoutMs: UNARY_TIMEOUT_MS });
      this.state = toStored(this.state.server, answer.token, answer.user);
      sessionStorage.setItem(STORAGE_KEY, JSON.stringify(this.state));
      this.scheduleRenewal();
    } catch (error) {
      const connectError = ConnectError.from(error);
      if (connectError.code === Code.Unauthenticated || Date.now() >= this.state.expiresMs) {
        this.end(connectError.code === Code.Unauthenticated ? describe(connectError) : "Your session expired.");
        return;
      }
      this.renewTimer = window.setTimeout(() => void this.renew(), RENEW_RETRY_MS);
    }
  }
}

function tokenRequest() {
  return { ttl: { seconds: BigInt(TOKEN_TTL_S), nanos: 0 } };
}

function toStored(server: string, token: string, user: string): StoredSession {
  if (token === "") throw new Error("the server sent no session token");
  const issuedMs = Date.now();
  return { server, token, user, issuedMs, expiresMs: issuedMs + TOKEN_TTL_S * 1000 };
}

function normaliseServer(server: string): string {
  const url = new URL(server.trim());
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("the server must be an http(s) URL");
  // Credentials never go into URLs: refuse a server address that carries any.
  if (url.username !== "" || url.password !== "") throw new Error("the server URL must not contain credentials");
  return url.origin + url.pathname.replace(/\/+$/, "");
}

function describe(error: ConnectError): string {
  return `Signed out: ${error.rawMessage || "the server refused the session"}. Sign in again.`;
}
