package rs

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// MetadataPath is where RFC 9728 places a protected resource's metadata,
// for a resource identifier without a path. Use Verifier.MetadataPath for
// the path of this API's.
const MetadataPath = "/.well-known/oauth-protected-resource"

// metadataURL is RFC 9728 section 3.1: the well-known segment goes
// between the host and the resource identifier's path.
func metadataURL(resource string) string {
	u, err := url.Parse(resource)
	if err != nil {
		return ""
	}
	u.Path = MetadataPath + strings.TrimRight(u.Path, "/")
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	return u.String()
}

// MetadataURL is the URL of this API's metadata document, which every
// challenge names in resource_metadata (RFC 9728 section 5.1).
func (v *Verifier) MetadataURL() string { return v.metadataURL }

// MetadataPath is the path MetadataHandler must be mounted at for the
// document to be at MetadataURL: MetadataPath for an API at the root of
// its host, MetadataPath followed by the API's path otherwise.
func (v *Verifier) MetadataPath() string {
	u, err := url.Parse(v.metadataURL)
	if err != nil {
		return MetadataPath
	}
	return u.Path
}

// ProtectedResourceMetadata is the RFC 9728 document.
type ProtectedResourceMetadata struct {
	Resource               string   `json:"resource"`
	AuthorizationServers   []string `json:"authorization_servers"`
	ScopesSupported        []string `json:"scopes_supported,omitempty"`
	BearerMethodsSupported []string `json:"bearer_methods_supported"`
	ResourceName           string   `json:"resource_name,omitempty"`
}

// Metadata is this API's protected resource metadata.
func (v *Verifier) Metadata() ProtectedResourceMetadata {
	return ProtectedResourceMetadata{
		Resource:               v.cfg.Audience,
		AuthorizationServers:   []string{v.cfg.Issuer},
		ScopesSupported:        v.cfg.Scopes,
		BearerMethodsSupported: []string{"header"},
		ResourceName:           v.cfg.Name,
	}
}

// MetadataHandler serves Metadata as JSON. Mount it at v.MetadataPath():
//
//	mux.Handle("GET "+v.MetadataPath(), v.MetadataHandler())
func (v *Verifier) MetadataHandler() http.Handler {
	doc, err := json.Marshal(v.Metadata())
	if err != nil {
		panic(err) // strings only: cannot fail
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Write(doc)
	})
}
