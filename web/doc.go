// Package web is the page plumbing shared by latch's server-rendered pages
// (login, consent, account): the embedded layout and stylesheet, one typed
// error page, security headers, CSRF protection, body size limits, the 303
// redirect helper and the client address.
//
// It must never trust forwarding headers, load anything from a CDN, need
// JavaScript, or log a form value: forms here carry passwords and codes.
package web
