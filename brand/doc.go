// Package brand is how an operator makes latch look like their own: the
// product name, logo, primary colour and support link every page and
// email shows, and a directory of template files that replace the
// built-in ones.
//
// It checks each setting once, at start, so that a colour too light to
// read or an override that does not parse stops latch before it serves a
// page. It must never fetch anything (the logo is only linked) nor produce
// styles the pages' Content-Security-Policy would have to allow inline.
package brand
