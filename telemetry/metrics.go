package telemetry

import "github.com/prometheus/client_golang/prometheus"

// Metrics counts the events operators alert on: sign-ins, tokens, refresh
// token reuse, rate limits, breached-password lookups and email delivery.
// Packages report through it; a nil *Metrics counts nothing, so a package
// built without one (in its own tests) needs no check.
//
// Labels are closed sets that latch chooses (a step, a reason, a grant type,
// a limiter's name), never a user, a client or an address: a label per
// user would grow without bound.
type Metrics struct {
	signIns     *prometheus.CounterVec
	signInFails *prometheus.CounterVec
	tokens      *prometheus.CounterVec
	reuse       prometheus.Counter
	limited     *prometheus.CounterVec
	breach      *prometheus.CounterVec
	mail        *prometheus.CounterVec
}

// Sign-in steps, for SignIn.
const (
	StepPassword = "password"
	StepCode     = "code"
	StepPasskey  = "passkey" // a passkey, passwordless or as the second step
)

// Reasons a sign-in step fails besides the account service's own
// (accounts.Fail...), for SignIn.
const (
	ReasonLocked    = "locked"     // a rate limit refused the attempt
	ReasonWrongCode = "wrong_code" // a wrong TOTP or backup code
	// ReasonWrongPasskey: a passkey's answer that did not verify, or a
	// ceremony expired or used.
	ReasonWrongPasskey = "wrong_passkey"
	ReasonBusy         = "busy" // too many password hashes at once
)

// Outcomes of a breached-password lookup, for BreachLookup.
const (
	BreachFound  = "breached"
	BreachClean  = "clean"
	BreachFailed = "failed" // the API could not be asked
)

// Outcomes of an email delivery attempt, for MailDelivery.
const (
	MailSent    = "sent"
	MailRetry   = "retry"    // failed; it will be tried again
	MailGivenUp = "given_up" // failed for good
)

func newMetrics() *Metrics {
	return &Metrics{
		signIns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latch_signin_succeeded_total", Help: "Sign-in steps passed, by step (password, code, passkey).",
		}, []string{"step"}),
		signInFails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latch_signin_failed_total", Help: "Sign-in steps failed, by step and reason.",
		}, []string{"step", "reason"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latch_tokens_issued_total", Help: "Token responses issued at the token endpoint, by grant type.",
		}, []string{"grant"}),
		reuse: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "latch_refresh_reuse_detected_total", Help: "Rotated refresh tokens presented again (taken as theft: the family or the user is revoked).",
		}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latch_ratelimit_hits_total", Help: "Attempts refused or locked out by a rate limit, by limiter.",
		}, []string{"limiter"}),
		breach: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latch_breach_lookups_total", Help: "Breached-password lookups, by result (breached, clean, failed).",
		}, []string{"result"}),
		mail: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latch_mail_deliveries_total", Help: "Email delivery attempts, by outcome (sent, retry, given_up).",
		}, []string{"outcome"}),
	}
}

func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.signIns, m.signInFails, m.tokens, m.reuse, m.limited, m.breach, m.mail}
}

// prepare creates the series whose labels are known ahead, at zero, so
// that a rate over them exists before the first event.
func (m *Metrics) prepare() {
	for _, s := range []string{StepPassword, StepCode, StepPasskey} {
		m.signIns.WithLabelValues(s)
	}
	for _, r := range []string{BreachFound, BreachClean, BreachFailed} {
		m.breach.WithLabelValues(r)
	}
	for _, o := range []string{MailSent, MailRetry, MailGivenUp} {
		m.mail.WithLabelValues(o)
	}
}

// Grants creates the token series of these grant types at zero.
func (m *Metrics) Grants(grants ...string) {
	if m == nil {
		return
	}
	for _, g := range grants {
		m.tokens.WithLabelValues(g)
	}
}

// Limiters creates the rate-limit series of these limiters at zero.
func (m *Metrics) Limiters(names ...string) {
	if m == nil {
		return
	}
	for _, n := range names {
		m.limited.WithLabelValues(n)
	}
}

// SignIn counts one sign-in step: passed when reason is "", else failed
// for reason.
func (m *Metrics) SignIn(step, reason string) {
	if m == nil {
		return
	}
	if reason == "" {
		m.signIns.WithLabelValues(step).Inc()
		return
	}
	m.signInFails.WithLabelValues(step, reason).Inc()
}

// TokenIssued counts a successful token response for grant.
func (m *Metrics) TokenIssued(grant string) {
	if m != nil {
		m.tokens.WithLabelValues(grant).Inc()
	}
}

// RefreshReuse counts a detected refresh token reuse.
func (m *Metrics) RefreshReuse() {
	if m != nil {
		m.reuse.Inc()
	}
}

// RateLimited counts an attempt that the limiter named limiter refused or
// locked out.
func (m *Metrics) RateLimited(limiter string) {
	if m != nil {
		m.limited.WithLabelValues(limiter).Inc()
	}
}

// BreachLookup counts a breached-password lookup by its result.
func (m *Metrics) BreachLookup(result string) {
	if m != nil {
		m.breach.WithLabelValues(result).Inc()
	}
}

// MailDelivery counts an email delivery attempt by its outcome.
func (m *Metrics) MailDelivery(outcome string) {
	if m != nil {
		m.mail.WithLabelValues(outcome).Inc()
	}
}
