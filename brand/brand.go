package brand

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultName is the product name when LATCH_BRAND_NAME is not set.
const DefaultName = "latch"

// maxName bounds the product name: it goes into page titles, email
// subjects and authenticator apps' account lists.
const maxName = 64

// Brand is what every page and email shows of the operator's product.
// The zero value is latch's own look.
type Brand struct {
	// Name is the product name (DefaultName when empty).
	Name string
	// LogoURL is an https URL, or a path on the issuer's host, of an
	// image shown above every page; empty: the name only.
	LogoURL string
	// Color is the primary colour, #rrggbb; empty: latch's blue.
	Color string
	// SupportURL is an https or mailto: URL shown in the footer of every
	// page and on error pages; empty: none.
	SupportURL string
}

// Look is how pages and emails look: the operator's brand, and the
// directory of template overrides (nil: the built-in templates). The zero
// Look is latch's own.
type Look struct {
	Brand     Brand
	Templates *Templates
}

// ProductName is b's name, or DefaultName.
func (b Brand) ProductName() string {
	if b.Name == "" {
		return DefaultName
	}
	return b.Name
}

// CheckName reports why name cannot be the product name, or nil.
func CheckName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return errors.New("must not be empty")
	case utf8.RuneCountInString(name) > maxName:
		return fmt.Errorf("must be at most %d characters", maxName)
	case strings.ContainsFunc(name, unicode.IsControl):
		return errors.New("must not contain control characters or line breaks")
	case strings.Contains(name, ":"):
		// The otpauth label is "issuer:account": authenticator apps
		// split it at the first colon.
		return errors.New("must not contain a colon (authenticator apps split their labels at one)")
	}
	return nil
}

// CheckLogo reports why logo cannot be the logo of pages served under
// issuer, or nil: it must be an https URL or a path on the issuer's host.
func CheckLogo(issuer, logo string) error {
	if strings.HasPrefix(logo, "/") && !strings.HasPrefix(logo, "//") {
		if strings.ContainsAny(logo, "\\\r\n\t \"'") {
			return fmt.Errorf("%q is not a clean path", logo)
		}
		return nil
	}
	u, err := url.Parse(logo)
	if err != nil || u.Host == "" || u.User != nil || strings.ContainsAny(logo, "\r\n\t \"'") {
		return fmt.Errorf("%q is neither an https URL nor a path like /logo.svg", logo)
	}
	if u.Scheme == "https" {
		return nil
	}
	if iu, err := url.Parse(issuer); err == nil && u.Scheme == "http" && iu.Scheme == "http" && u.Host == iu.Host {
		return nil // a plain-http development issuer's own host
	}
	return fmt.Errorf("%q must be https", logo)
}

// LogoOrigin is the origin pages must allow images from for logo, or ""
// when the logo is on the issuer's own origin.
func LogoOrigin(issuer, logo string) string {
	u, err := url.Parse(logo)
	if err != nil || u.Host == "" {
		return ""
	}
	origin := u.Scheme + "://" + u.Host
	if strings.TrimRight(issuer, "/") == origin || strings.HasPrefix(issuer, origin+"/") {
		return ""
	}
	return origin
}

// CheckSupport reports why support cannot be the support link, or nil: it
// must be an https URL or a mailto: address.
func CheckSupport(support string) error {
	u, err := url.Parse(support)
	if err != nil || strings.ContainsAny(support, "\r\n\t \"'") {
		return fmt.Errorf("%q is not a URL", support)
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" || u.User != nil {
			return fmt.Errorf("%q is not an https URL with a host", support)
		}
		return nil
	case "mailto":
		if _, err := netmail.ParseAddress(u.Opaque); err != nil {
			return fmt.Errorf("%q is not a mailto: link to one address", support)
		}
		return nil
	}
	return fmt.Errorf("%q must be an https URL or a mailto: address", support)
}

// The colours of latch.css the brand colour is checked against: the light
// and dark page backgrounds (links sit on the card and on the page), and
// the text on the dark-mode button.
var (
	lightBackgrounds = []rgb{{0xff, 0xff, 0xff}, {0xf4, 0xf5, 0xf7}}
	darkBackgrounds  = []rgb{{0x16, 0x1b, 0x22}, {0x0d, 0x11, 0x17}}
)

// MinContrast is WCAG 2.1 AA's contrast ratio for normal text.
const MinContrast = 4.5

// Palette is the brand colour as the pages use it: on light pages as the
// operator chose it, with white text on buttons; on dark pages a lighter
// shade of it that reads on the dark background, with dark text.
type Palette struct {
	Light, Dark string // #rrggbb
}

// CheckColor returns the palette of color, or why it cannot be used: it
// must be #rrggbb and dark enough that white button text and links on the
// light page reach MinContrast. The dark-mode shade is derived, and always
// exists.
func CheckColor(color string) (Palette, error) {
	c, ok := parseHex(color)
	if !ok {
		return Palette{}, fmt.Errorf("%q is not a colour like #0b57d0", color)
	}
	if worst := c.minContrast(lightBackgrounds); worst < MinContrast {
		return Palette{}, fmt.Errorf("%s has a contrast of %.1f:1 with white button text and the light page; WCAG AA needs %.1f:1 (a darker shade such as %s does)",
			c, worst, MinContrast, c.until(rgb{}, lightBackgrounds))
	}
	return Palette{Light: c.String(), Dark: c.until(rgb{0xff, 0xff, 0xff}, darkBackgrounds).String()}, nil
}

// Stylesheet is the CSS that gives the pages palette p; loaded after
// latch.css, it overrides its accent colours.
func (p Palette) Stylesheet() []byte {
	return []byte(fmt.Sprintf(":root { --accent: %s; --on-accent: #fff; }\n@media (prefers-color-scheme: dark) { :root { --accent: %s; --on-accent: #0d1117; } }\n", p.Light, p.Dark))
}

// Hash is a short digest of css, for a stylesheet URL that changes
// whenever its content does (so it may be cached for good).
func Hash(css []byte) string {
	sum := sha256.Sum256(css)
	return hex.EncodeToString(sum[:6])
}

type rgb struct{ r, g, b uint8 }

func parseHex(s string) (rgb, bool) {
	if len(s) != 7 || s[0] != '#' {
		return rgb{}, false
	}
	n, err := strconv.ParseUint(s[1:], 16, 32)
	if err != nil {
		return rgb{}, false
	}
	return rgb{uint8(n >> 16), uint8(n >> 8), uint8(n)}, true
}

func (c rgb) String() string { return fmt.Sprintf("#%02x%02x%02x", c.r, c.g, c.b) }

// luminance is WCAG 2.1's relative luminance.
func (c rgb) luminance() float64 {
	lin := func(v uint8) float64 {
		s := float64(v) / 255
		if s <= 0.03928 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(c.r) + 0.7152*lin(c.g) + 0.0722*lin(c.b)
}

func contrast(a, b rgb) float64 {
	la, lb := a.luminance(), b.luminance()
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

func (c rgb) minContrast(against []rgb) float64 {
	worst := math.Inf(1)
	for _, bg := range against {
		worst = min(worst, contrast(c, bg))
	}
	return worst
}

// until mixes c towards target in small steps until it reaches
// MinContrast against every colour of against; target itself (black or
// white) always does against latch's backgrounds.
func (c rgb) until(target rgb, against []rgb) rgb {
	mix := func(a, b uint8, t float64) uint8 { return uint8(math.Round(float64(a) + (float64(b)-float64(a))*t)) }
	for i := 0; i <= 100; i++ {
		t := float64(i) / 100
		m := rgb{mix(c.r, target.r, t), mix(c.g, target.g, t), mix(c.b, target.b, t)}
		if m.minContrast(against) >= MinContrast {
			return m
		}
	}
	return target
}
