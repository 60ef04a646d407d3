package e2e

// Azure Artifacts through Microsoft Entra workload identity federation,
// against the Entra and Azure feed fakes: the fault matrix's Azure rows
// (mxAzureRows, appended by mxRows) and what Entra and the feed must have
// received. The long jobs with the real cargo are rows of TestProvider, the
// composite setup/ a row of TestComposite, the fetch a scenario (scnFetch).

import (
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/fakes"
	"github.com/cargo-oidc/cargo-oidc/e2e/internal/runner"
)

// azCheckRequests checks what Entra received: every request is the
// client-credentials grant of the configured application in the configured
// tenant, with an assertion, for Azure DevOps; and every token the feed saw
// is one Entra issued.
func azCheckRequests(t testing.TB, s *fakes.Stack) {
	t.Helper()
	want := fakes.EntraRequest{Tenant: s.Azure.Entra.Tenant, ClientID: s.Azure.Entra.ClientID, GrantType: fakes.EntraGrantType,
		ClientAssertionType: fakes.EntraAssertionType, Scope: fakes.AzureDevOpsScope, Assertion: true}
	got := s.Azure.Entra.Received()
	if len(got) == 0 {
		t.Errorf("Entra got no request")
	}
	for i, r := range got {
		if r != want {
			t.Errorf("Entra request %d: %+v, want %+v", i, r, want)
		}
	}
	for _, aud := range s.Issuer.Audiences() {
		if aud != fakes.EntraAudience {
			t.Errorf("an ID token was asked for audience %q, want %s", aud, fakes.EntraAudience)
		}
	}
	for _, r := range s.Azure.Registry.Requests() {
		if it, ok := s.Store.Lookup(r.Token); r.Token != "" && (!ok || it.Service != "azure") {
			t.Errorf("the feed got %s %s with a token Entra did not issue (status %d)", r.Method, r.Path, r.Status)
		}
	}
}

// mxAzureRows are the fault matrix's Azure rows: what the binary does end
// to end (one ::error, nothing exported, nothing leaked, bounded requests).
// Each AADSTS code's text and a malformed answer: exchange's TestAzureErrors
// and TestAzureBadAnswers; the index of organization/project/feed:
// internal/config's unit tests; the exported Bearer token and the provider
// setting: scnFetch and TestProvider's azure rows.
func mxAzureRows() []mxRow {
	fail := func(r mxRow) mxRow {
		r.exit = 1
		r.provider = "azure"
		return r
	}
	otherSubject := func(w *mxWorld) {
		w.s.Azure.Entra.SetCredentials(fakes.FederatedCredential{Issuer: w.s.IssuerURL,
			Subject: "repo:octo-org/octo-repo:environment:release", Audience: fakes.EntraAudience})
	}
	return []mxRow{
		{name: "azure/throttled-429-then-ok", expected: "ok: AADSTS50196 429 retried after Retry-After", provider: "azure",
			setup:   func(w *mxWorld) { w.s.Azure.Entra.Faults.Push(fakes.EntraThrottled("1")) },
			svcReqs: mxN(2), minTime: 900 * time.Millisecond, maxTime: 8 * time.Second},
		fail(mxRow{name: "azure/deny-70021", expected: "fail at once: federated credential subject/audience hint",
			setup:  otherSubject,
			want:   []string{"no federated credential matches the ID token", "repo:octo-org/octo-repo:ref:refs/heads/main", fakes.EntraAudience},
			idReqs: mxN(1), svcReqs: mxN(1), maxTime: 5 * time.Second}),
		fail(mxRow{name: "azure/deny-echoing-the-id-token", expected: "fail at once: the echoed ID token redacted",
			setup:  func(w *mxWorld) { otherSubject(w); w.s.Azure.Entra.SetEchoAssertion(true) },
			want:   []string{"no federated credential matches the ID token"},
			idReqs: mxN(1), svcReqs: mxN(1)}),
		fail(mxRow{name: "azure/token-in-error-body", expected: "fail: the error's token not shown",
			setup: func(w *mxWorld) {
				f, _ := w.s.Azure.Entra.EntraLeakyFault()
				w.s.Azure.Entra.Faults.Push(f)
			},
			want:   []string{"AADSTS700027"},
			idReqs: mxN(1), svcReqs: mxN(1)}),
		fail(mxRow{name: "azure/http-authority", expected: "fail before any request: https only",
			job:    func(o *runner.Options) { o.Env[fakes.AzureAuthorityEnv] = "http://127.0.0.1:9" },
			want:   []string{"AZURE_AUTHORITY_HOST must be an https URL"},
			idReqs: mxN(0), svcReqs: mxN(0)}),
	}
}
