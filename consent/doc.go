// Package consent owns the consent page: it shows a third-party client's
// name and the scopes it asks for in plain words, remembers the user's
// decision per client, and hands the result to provider through the flow.
// It never imports provider, and it accepts a flow only from the browser
// session that signed in for it.
package consent
