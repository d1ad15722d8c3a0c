// The demo single-page app: OpenID Connect's authorization code flow with
// PKCE (RFC 7636), entirely in the browser, for a public client (no
// secret: a browser cannot keep one). Every endpoint comes from latch's
// discovery document. Tokens are kept in sessionStorage, so they survive a
// reload and end with the tab; any script on this origin could read them,
// which is why the page allows no inline or foreign script (see its
// Content-Security-Policy).

const $ = (id) => document.getElementById(id);
const KEY = { pending: "demo-spa:pending", tokens: "demo-spa:tokens" };
// offline_access asks for a refresh token (latch gives first-party apps one
// anyway); api:read makes the demo API the token's audience.
const SCOPE = "openid profile email offline_access api:read";

let cfg; // /config.json: issuer, client_id, api
let meta; // latch's discovery document

main().catch(showError);

async function main() {
  cfg = await getJSON("/config.json");
  meta = await getJSON(cfg.issuer + "/.well-known/openid-configuration");
  if (meta.issuer !== cfg.issuer) {
    throw new Error(`discovery names the issuer ${meta.issuer}, not ${cfg.issuer}`);
  }
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
// verifier, state and nonce stay in this tab until the callback.
async function signIn(scope) {
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
  const headers = { Authorization: "Bearer " + t.access_token };
  if (body) {
    headers["Content-Type"] = "application/json";
  }
  let resp;
  try {
    resp = await fetch(cfg.api + path, { method, headers, body: body && JSON.stringify(body) });
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

async function tokenRequest(params) {
  // A form body makes this a "simple" cross-origin request: no preflight;
  // latch answers with Access-Control-Allow-Origin for this origin.
  const resp = await fetch(meta.token_endpoint, { method: "POST", body: new URLSearchParams(params) });
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    throw new Error(`The token endpoint said ${body.error || resp.status}${body.error_description ? ": " + body.error_description : ""}`);
  }
  return body;
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
