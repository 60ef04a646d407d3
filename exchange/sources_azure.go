package exchange

import (
	"context"
	"errors"
	"net/http"
	"strings"
)

// AzurePipelinesAudience is the one audience of Azure Pipelines' ID tokens.
const AzurePipelinesAudience = AzureAudience

// ServiceAzurePipelines names Azure Pipelines' ID token endpoint in
// HTTPError.Service and RequestError.Service.
const ServiceAzurePipelines = "azure pipelines id token endpoint"

func detectAzurePipelines(e *SourceEnv) (*Source, bool) {
	if !strings.EqualFold(e.Getenv("TF_BUILD"), "true") {
		return nil, false
	}
	getenv, c := e.Getenv, e.Client
	how := func(want string) string {
		return "Azure Pipelines mints ID tokens for " + AzurePipelinesAudience + " only: use a registry whose trust accepts that audience " +
			"(audience: " + AzurePipelinesAudience + "), or give another token with --id-token-env or --id-token-file (" + want + " was needed)."
	}
	return &Source{Name: "Azure Pipelines", CI: CIAzurePipelines, only: AzurePipelinesAudience, howToSet: how,
		fetch: func(ctx context.Context, _ string) (string, error) {
			return azurePipelinesToken(ctx, getenv, c)
		}}, true
}

// azurePipelinesToken asks SYSTEM_OIDCREQUESTURI for an ID token: a POST
// with api-version=7.1 and the job's SYSTEM_ACCESSTOKEN, answered with
// {"oidcToken": ...} (as the Cloudsmith CLI's azure_devops.py and the Azure
// SDK's AzurePipelinesCredential do).
func azurePipelinesToken(ctx context.Context, getenv func(string) string, c *Client) (string, error) {
	uri, access := strings.TrimSpace(getenv("SYSTEM_OIDCREQUESTURI")), strings.TrimSpace(getenv("SYSTEM_ACCESSTOKEN"))
	switch {
	case uri == "":
		return "", errors.New("SYSTEM_OIDCREQUESTURI is not set; it is set in Azure Pipelines jobs by agents from 2024 on: update the agent")
	case access == "":
		return "", errors.New("SYSTEM_ACCESSTOKEN is not set; map it into the step: env: SYSTEM_ACCESSTOKEN: $(System.AccessToken)")
	case c == nil:
		return "", errors.New("no HTTP client configured")
	}
	c.red.Add(access) // the agent's job token: never shown in an error
	sep := "?"
	if strings.Contains(uri, "?") {
		sep = "&"
	}
	u := uri + sep + "api-version=7.1"
	sc := &svcCall{red: c.red, service: ServiceAzurePipelines, method: http.MethodPost, url: displayRawURL(u), hint: azureHint}
	header := jsonHeaders()
	header.Set("Authorization", "Bearer "+access)
	header.Set("X-TFS-FedAuthRedirect", "Suppress")
	a, err := sc.do(ctx, c, &call{method: http.MethodPost, url: u, header: header, body: []byte("{}")})
	if err != nil {
		return "", err
	}
	// guarded: the token (and any secret in an unreadable answer) is
	// recorded for redaction before anything can print it.
	ans, err := guarded(sc, a, "oidcToken", func(v *struct {
		OIDCToken string `json:"oidcToken"`
	}) string {
		return v.OIDCToken
	})
	if err != nil {
		return "", err
	}
	return ans.OIDCToken, nil
}

func azureHint(status int) string {
	return endpointHint(status, "Azure Pipelines refused SYSTEM_ACCESSTOKEN; map it into the step with env: SYSTEM_ACCESSTOKEN: $(System.AccessToken), while the job runs",
		"Azure Pipelines' ID token endpoint failed repeatedly; this is usually transient: re-run the job")
}
