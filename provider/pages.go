package provider

import (
	"embed"
	"net/http"

	"github.com/latch-idp/latch/web"
)

//go:embed templates/*.html
var templates embed.FS

// Page templates, named as web.Site.Pages keys them: by their path.
const (
	pageLogout    = "templates/logout.html"
	pageSignedOut = "templates/signed_out.html"
	pageDevice    = "templates/device.html"
	pageDevDone   = "templates/device_done.html"
)

// sitePages renders provider's pages with the shared layout.
type sitePages struct {
	site  *web.Site
	pages *web.Pages
}

// NewPages returns provider's pages on site, parsed and checked now.
func NewPages(site *web.Site) (Pages, error) {
	p, err := site.Pages("provider", templates, pageLogout, pageSignedOut, pageDevice, pageDevDone)
	if err != nil {
		return nil, err
	}
	return &sitePages{site: site, pages: p}, nil
}

func (p *sitePages) Problem(w http.ResponseWriter, r *http.Request, status int, pr web.Problem) {
	p.site.Problem(w, r, status, pr)
}

func (p *sitePages) RememberLanguage(w http.ResponseWriter, r *http.Request, uiLocales string) *http.Request {
	return p.site.RememberLanguage(w, r, uiLocales)
}

func (p *sitePages) ConfirmLogout(w http.ResponseWriter, r *http.Request, action string, fields map[string]string, told []string) {
	p.pages.Render(w, r, http.StatusOK, pageLogout, "logout.title", struct {
		Action string
		Fields map[string]string
		Told   []string
	}{action, fields, told})
}

func (p *sitePages) SignedOut(w http.ResponseWriter, r *http.Request, told []string) {
	p.pages.Render(w, r, http.StatusOK, pageSignedOut, "logout.signed_out_title", struct{ Told []string }{told})
}

func (p *sitePages) CSRFValid(r *http.Request) bool { return p.site.CSRFValid(r) }

func (p *sitePages) DeviceCode(w http.ResponseWriter, r *http.Request, status int, code, problem string) {
	p.pages.Render(w, r, status, pageDevice, "device_page.title", struct{ Code, Problem string }{code, problem})
}

func (p *sitePages) DeviceDone(w http.ResponseWriter, r *http.Request, approved bool, clientName string) {
	title := "device_page.connected"
	if !approved {
		title = "device_page.denied"
	}
	p.pages.Render(w, r, http.StatusOK, pageDevDone, title, struct {
		Approved   bool
		ClientName string
	}{approved, clientName})
}

func (p *sitePages) Wrap(h http.Handler) http.Handler { return p.site.Wrap(h) }
