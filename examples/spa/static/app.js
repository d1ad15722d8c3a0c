// The demo single-page app: OpenID Connect's authorization code flow with
// PKCE (RFC 7636), entirely in the browser, for a public client (no
// secret: a browser cannot keep one). Every endpoint comes from latch's
// discovery document. Tokens are kept in sessionStorage, so they survive a
// reload and end with the tab; any script on this origin could read them,
// which is why the page allows no inline or foreign script (see its
// Content-Security-Policy). The tokens are DPoP-bound (RFC 9449) to a key
// WebCrypto made non-extractable: a token carried off this page is of no
// use without the key, and no script can carry off the key.

const $ = (id) => document.getElementById(id);
const KEY = { pending: "demo-spa:pending", tokens: "demo-spa:tokens", nonces: "demo-spa:dpop-nonces" };
// offline_access asks for a refresh token (latch gives first-party apps one
// anyway); api:read makes the demo API the token's audience.
const SCOPE = "openid profile email offline_access api:read";

let cfg; // /config.json: issuer, client_id, api
let meta; // latch's discovery document
let dpop; // { key: CryptoKeyPair, jwk, jkt }: the key the tokens are bound to

main().catch(showError);

async function main() {
  cfg = await getJSON("/config.json");
  meta = await getJSON(cfg.issuer + "/.well-known/openid-configuration");
  if (meta.issuer !== cfg.issuer) {
    throw new Error(`discovery names the issuer ${meta.issuer}, not ${cfg.issuer}`);
  }
  if (!(meta.dpop_signing_alg_values_supported || []).includes("ES256")) {
    throw new Error("latch does not accept DPoP proofs signed with ES256.");
  }
  dpop = await loadKey();
  on("signin", () => signIn(SCOPE + " api:write"));
  on("signin-readonly", () => signIn(SCOPE));
  on("refresh", async () => {
    await refresh();
    status("Refreshed: a new access token, and a new refresh token in place of the one just used.");
  });
  on("call-me", () => callAPI("GET", "/me"));
  on("call-admin", () => callAPI("GET", "/admin"));
  on("call-write", () => callAPI("POST", "/notes", { text: "written at " + new Date().toISOString() }));
  on("signout", signOut);
  if (location.pathname === "/callback") {
    await finishSignIn().catch(showError);
  }
  render();
}

function on(id, action) {
  $(id).addEventListener("click", () => {
    $("error").hidden = true;
    Promise.resolve().then(action).catch(showError);
  });
}

// signIn sends the browser to latch's authorization endpoint. The PKCE
// verifier, state and nonce stay in this tab until the callback. Each
// sign-in has a new DPoP key, and dpop_jkt binds the code to it.
async function signIn(scope) {
  dpop = await newKey();
  const pending = { verifier: random(32), state: random(16), nonce: random(16) };
  sessionStorage.setItem(KEY.pending, JSON.stringify(pending));
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(pending.verifier));
  const u = new URL(meta.authorization_endpoint);
  u.search = new URLSearchParams({
    response_type: "code",
    client_id: cfg.client_id,
    redirect_uri: redirectURI(),
    scope,
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: b64url(new Uint8Array(digest)),
    code_challenge_method: "S256",
    dpop_jkt: dpop.jkt,
  });
  location.assign(u);
}

// finishSignIn handles /callback: it checks that the answer belongs to the
// sign-in this tab started and comes from latch, then trades the code and
// the PKCE verifier for tokens.
async function finishSignIn() {
  const q = new URLSearchParams(location.search);
  const pending = JSON.parse(sessionStorage.getItem(KEY.pending) || "null");
  sessionStorage.removeItem(KEY.pending);
  history.replaceState(null, "", "/"); // the code leaves the address bar and the history
  if (!pending || q.get("state") !== pending.state) {
    throw new Error("This answer does not belong to a sign-in started here (state mismatch).");
  }
  if (q.get("iss") !== meta.issuer) {
    throw new Error(`The answer does not come from ${meta.issuer} (RFC 9207 iss).`);
  }
  if (q.get("error")) {
    throw new Error(`Sign-in failed: ${q.get("error")} ${q.get("error_description") || ""}`);
  }
  const t = await tokenRequest({
    grant_type: "authorization_code",
    code: q.get("code"),
    redirect_uri: redirectURI(),
    client_id: cfg.client_id,
    code_verifier: pending.verifier,
  });
  // The ID token came straight from latch's token endpoint, so its claims
  // are checked and its signature is not (OpenID Connect Core 3.1.3.7).
  const id = claims(t.id_token);
  if (id.iss !== meta.issuer || ![].concat(id.aud).includes(cfg.client_id) || id.nonce !== pending.nonce) {
    throw new Error("The ID token is not for this sign-in.");
  }
  save(t, 0);
  status("Signed in.");
}

// refresh trades the refresh token for new tokens. latch rotates it: the
// old one is spent, and presenting it again would revoke the whole family.
// So one refresh at a time: concurrent callers share it.
let refreshing = null;
function refresh() {
  refreshing ??= doRefresh().finally(() => (refreshing = null));
  return refreshing;
}

async function doRefresh() {
  const old = load();
  if (!old?.refresh_token) {
    throw new Error("No refresh token: sign in again.");
  }
  const t = await tokenRequest({ grant_type: "refresh_token", refresh_token: old.refresh_token, client_id: cfg.client_id });
  if (!t.refresh_token || t.refresh_token === old.refresh_token) {
    throw new Error("latch did not rotate the refresh token.");
  }
  save({ ...t, id_token: t.id_token || old.id_token }, old.refreshes + 1);
  render();
}

// callAPI calls the demo API on its own origin with the access token,
// refreshing first when the token is about to expire. The browser asks the
// API first (a CORS preflight) whether this origin may send an
// Authorization header.
async function callAPI(method, path, body) {
  const out = $("api-status");
  out.dataset.call = `${method} ${path}`;
  delete out.dataset.status;
  out.textContent = `${method} ${path}…`;
  $("api-result").textContent = "";
  let t = load();
  if (t.expires_at - Date.now() < 30_000) {
    await refresh();
    t = load();
  }
  // The token is bound to the key: it goes with the DPoP scheme and a proof
  // of the key for this very call.
  const url = cfg.api + path;
  const headers = { Authorization: "DPoP " + t.access_token, DPoP: await proof(method, url, t.access_token) };
  if (body) {
    headers["Content-Type"] = "application/json";
  }
  let resp;
  try {
    resp = await fetch(url, { method, headers, body: body && JSON.stringify(body) });
  } catch (e) {
    out.dataset.status = "error";
    out.textContent = `${method} ${path} failed: ${e.message} (is the API up, and does it allow this origin?)`;
    return;
  }
  const text = await resp.text();
  const challenge = resp.headers.get("WWW-Authenticate");
  out.dataset.status = String(resp.status);
  out.textContent = `${method} ${path}: ${resp.status} ${resp.statusText}`;
  $("api-result").textContent = pretty(text) + (challenge ? "\n\nWWW-Authenticate: " + challenge : "");
}

// signOut revokes the refresh token (and with it the access token), then
// signs out of latch too: RP-initiated logout, back to this page.
async function signOut() {
  const t = load();
  sessionStorage.removeItem(KEY.tokens);
  await forgetKey();
  if (!t) {
    render();
    return;
  }
  await fetch(meta.revocation_endpoint, {
    method: "POST",
    body: new URLSearchParams({ token: t.refresh_token, token_type_hint: "refresh_token", client_id: cfg.client_id }),
  }).catch(() => {}); // signing out goes on regardless
  const u = new URL(meta.end_session_endpoint);
  u.search = new URLSearchParams({ id_token_hint: t.id_token, post_logout_redirect_uri: location.origin + "/", client_id: cfg.client_id });
  location.assign(u);
}

// tokenRequest posts to the token endpoint with a DPoP proof. The DPoP
// header makes the request cross-origin with a preflight, which latch
// answers for the origins in LATCH_CORS_ORIGINS. When latch asks for a
// server nonce (use_dpop_nonce), the request is made once more with it.
async function tokenRequest(params) {
  let resp, body;
  for (let attempt = 0; attempt < 2; attempt++) {
    resp = await fetch(meta.token_endpoint, {
      method: "POST",
      headers: { DPoP: await proof("POST", meta.token_endpoint) },
      body: new URLSearchParams(params),
    });
    body = await resp.json().catch(() => ({}));
    if (!rememberNonce(meta.token_endpoint, resp) || body.error !== "use_dpop_nonce") {
      break;
    }
  }
  if (!resp.ok) {
    throw new Error(`The token endpoint said ${body.error || resp.status}${body.error_description ? ": " + body.error_description : ""}`);
  }
  if (body.token_type !== "DPoP") {
    throw new Error(`latch issued a ${body.token_type} token, not a DPoP-bound one.`);
  }
  return body;
}

// The DPoP key lives in IndexedDB, which keeps a CryptoKey as it is: the
// private half stays non-extractable and survives the trip to latch and
// back; sessionStorage could only keep exported bytes.
const DB = { name: "demo-spa", store: "keys", id: "dpop" };

async function newKey() {
  const key = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
  await keyStore("readwrite", (s) => s.put(key, DB.id));
  sessionStorage.removeItem(KEY.nonces);
  return describeKey(key);
}

async function loadKey() {
  const key = await keyStore("readonly", (s) => s.get(DB.id));
  return key ? describeKey(key) : null;
}

async function forgetKey() {
  await keyStore("readwrite", (s) => s.delete(DB.id));
  dpop = null;
}

// describeKey adds the public JWK (the proofs' jwk header) and its RFC 7638
// thumbprint (dpop_jkt, and the tokens' cnf.jkt).
async function describeKey(key) {
  const { crv, kty, x, y } = await crypto.subtle.exportKey("jwk", key.publicKey);
  const jwk = { crv, kty, x, y }; // the members RFC 7638 hashes, in its order
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(JSON.stringify(jwk)));
  return { key, jwk, jkt: b64url(new Uint8Array(digest)) };
}

function keyStore(mode, op) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(DB.name, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(DB.store);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const tx = open.result.transaction(DB.store, mode);
      const req = op(tx.objectStore(DB.store));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error);
    };
  });
}

// proof is a DPoP proof (RFC 9449 section 4.2) of the key for one request:
// its method and URL, when, a jti never used before, the server's nonce
// when it gave one, and for a call with an access token that token's hash.
async function proof(method, url, accessToken) {
  if (!dpop) {
    throw new Error("No DPoP key: sign in again.");
  }
  const htu = url.split(/[?#]/)[0];
  const claims = { jti: random(16), htm: method, htu, iat: Math.floor(Date.now() / 1000) };
  const nonce = nonces()[new URL(url).origin];
  if (nonce) {
    claims.nonce = nonce;
  }
  if (accessToken) {
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(accessToken));
    claims.ath = b64url(new Uint8Array(digest));
  }
  const header = { typ: "dpop+jwt", alg: "ES256", jwk: dpop.jwk };
  const input = b64json(header) + "." + b64json(claims);
  // WebCrypto's ECDSA signature is r and s side by side, as JWS wants it.
  const sig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, dpop.key.privateKey, new TextEncoder().encode(input));
  return input + "." + b64url(new Uint8Array(sig));
}

// rememberNonce keeps the DPoP-Nonce a server answered with, per origin,
// and reports whether it was new.
function rememberNonce(url, resp) {
  const nonce = resp.headers.get("DPoP-Nonce");
  const all = nonces();
  const origin = new URL(url).origin;
  if (!nonce || all[origin] === nonce) {
    return false;
  }
  all[origin] = nonce;
  sessionStorage.setItem(KEY.nonces, JSON.stringify(all));
  return true;
}

function nonces() {
  return JSON.parse(sessionStorage.getItem(KEY.nonces) || "{}");
}

function save(t, refreshes) {
  const tokens = {
    access_token: t.access_token,
    refresh_token: t.refresh_token,
    id_token: t.id_token,
    expires_at: Date.now() + t.expires_in * 1000,
    refreshes,
  };
  sessionStorage.setItem(KEY.tokens, JSON.stringify(tokens));
}

function load() {
  return JSON.parse(sessionStorage.getItem(KEY.tokens) || "null");
}

function render() {
  $("loading").hidden = true;
  const t = load();
  $("signed-out").hidden = !!t;
  $("signed-in").hidden = !t;
  if (!t) {
    return;
  }
  const id = claims(t.id_token);
  const at = claims(t.access_token);
  $("user").textContent = id.email ? `${id.name || id.email} <${id.email}>` : id.sub;
  $("role").textContent = at.role ? `(role ${at.role})` : "";
  $("id-claims").textContent = JSON.stringify(id, null, 2);
  $("access-claims").textContent = JSON.stringify(at, null, 2);
  $("signed-in").dataset.refreshes = String(t.refreshes);
  const key = $("dpop-key");
  key.textContent = dpop ? `${dpop.jkt} (private key extractable: ${dpop.key.privateKey.extractable})` : "none";
  key.dataset.jkt = dpop?.jkt || "";
  key.dataset.extractable = String(!!dpop?.key.privateKey.extractable);
}

function status(text) {
  $("status").textContent = text;
}

function showError(e) {
  $("loading").hidden = true;
  $("error").hidden = false;
  $("error").textContent = e.message || String(e);
}

async function getJSON(url) {
  const resp = await fetch(url);
  if (!resp.ok) {
    throw new Error(`GET ${url}: ${resp.status}`);
  }
  return resp.json();
}

function redirectURI() {
  return location.origin + "/callback";
}

// claims decodes a JWT's payload, for display and the ID token's checks.
function claims(jwt) {
  const b64 = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  const bytes = Uint8Array.from(atob(b64.padEnd(b64.length + ((4 - (b64.length % 4)) % 4), "=")), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

function random(n) {
  return b64url(crypto.getRandomValues(new Uint8Array(n)));
}

function b64json(v) {
  return b64url(new TextEncoder().encode(JSON.stringify(v)));
}

function b64url(bytes) {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
