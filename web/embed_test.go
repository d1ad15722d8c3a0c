package web_test

import "embed"

//go:embed testdata/*.html
var testPages embed.FS
