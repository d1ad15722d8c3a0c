// Package locale holds latch's message catalogs, one file per language
// in messages/, and picks the language of a request: every string a page
// or an email shows goes through it, by message ID.
//
// English is complete by definition and is what every other language
// falls back to; the tests fail when a catalog lacks a key English has,
// has one English lacks, or when code or a template uses an ID English
// lacks. It must never depend on HTTP plumbing (web and mail call it) nor
// load catalogs from outside the binary.
package locale
