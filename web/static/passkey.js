// latch: the WebAuthn ceremonies of the passkey forms, the one script latch
// serves. A form with data-passkey-options="URL" asks URL for the options
// (posting its own fields, the CSRF token among them), hands them to the
// browser's authenticator, puts the answer in the form's hidden fields
// "ceremony" and "credential", and posts the form. Without this script, or
// in a browser without WebAuthn, the form posts as it is and the page it
// gets back says what is missing.
"use strict";
(function () {
  function decode(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function encode(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function descriptors(list) {
    return (list || []).map(function (c) { return Object.assign({}, c, { id: decode(c.id) }); });
  }
  function creation(o) {
    var pk = Object.assign({}, o.publicKey);
    pk.challenge = decode(pk.challenge);
    pk.user = Object.assign({}, pk.user, { id: decode(pk.user.id) });
    pk.excludeCredentials = descriptors(pk.excludeCredentials);
    return { publicKey: pk };
  }
  function request(o) {
    var pk = Object.assign({}, o.publicKey);
    pk.challenge = decode(pk.challenge);
    pk.allowCredentials = descriptors(pk.allowCredentials);
    return { publicKey: pk };
  }
  function answer(cred) {
    var r = cred.response;
    var out = {
      id: cred.id, rawId: encode(cred.rawId), type: cred.type,
      clientExtensionResults: {},
      response: { clientDataJSON: encode(r.clientDataJSON) }
    };
    if (cred.authenticatorAttachment) out.authenticatorAttachment = cred.authenticatorAttachment;
    var ext = cred.getClientExtensionResults ? cred.getClientExtensionResults() : {};
    if (ext.credProps) out.clientExtensionResults.credProps = ext.credProps;
    if (r.attestationObject) {
      out.response.attestationObject = encode(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = encode(r.authenticatorData);
      out.response.signature = encode(r.signature);
      if (r.userHandle) out.response.userHandle = encode(r.userHandle);
    }
    return out;
  }
  // text is the form's data-passkey-NAME message, in the page's language,
  // or the English fallback.
  function text(form, name, fallback) {
    return form.getAttribute("data-passkey-" + name) || fallback;
  }

  function say(form, message) {
    var p = form.querySelector("[data-passkey-status]");
    if (!p) return;
    p.textContent = message;
    p.hidden = false;
  }
  function busy(form, on) {
    form.querySelectorAll("button").forEach(function (b) { b.disabled = on; });
  }

  async function run(form, kind) {
    var body = new URLSearchParams(new FormData(form));
    body.set("passkey", kind);
    var res, data;
    try {
      res = await fetch(form.getAttribute("data-passkey-options"), {
        method: "POST", body: body, credentials: "same-origin", headers: { Accept: "application/json" }
      });
      data = await res.json();
    } catch (e) {
      say(form, text(form, "unreachable", "The sign-in service could not be reached. Check your connection and try again."));
      return;
    }
    if (data.redirect) {
      window.location.assign(data.redirect);
      return;
    }
    if (!res.ok || !data.options) {
      say(form, data.error || text(form, "failed", "Something went wrong. Reload the page and try again."));
      return;
    }
    var cred;
    try {
      cred = kind === "register"
        ? await navigator.credentials.create(creation(data.options))
        : await navigator.credentials.get(request(data.options));
    } catch (e) {
      if (e && e.name === "InvalidStateError") {
        say(form, text(form, "already", "This passkey is already registered to your account."));
      } else {
        say(form, text(form, "cancelled", "No passkey was used: it was cancelled, timed out, or none is available here."));
      }
      return;
    }
    form.elements.ceremony.value = data.ceremony;
    form.elements.credential.value = JSON.stringify(answer(cred));
    HTMLFormElement.prototype.submit.call(form);
  }

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-passkey-options")) return;
    if (!window.PublicKeyCredential || !navigator.credentials) return; // the server explains
    ev.preventDefault();
    busy(form, true);
    run(form, form.getAttribute("data-passkey")).finally(function () { busy(form, false); });
  });
})();
