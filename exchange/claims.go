package exchange

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// MaxJWT bounds the size of a JWT DecodeClaims accepts, in bytes.
const MaxJWT = 64 << 10

// Claims are the non-secret claims of an ID token that a registry's trust
// policy usually checks.
type Claims struct {
	Issuer          string
	Subject         string
	Audience        []string
	Repository      string
	RepositoryOwner string
	Ref             string
	Environment     string
	JobWorkflowRef  string
	EventName       string
	RunID           string
	// GitLab CI's claims, the ones crates.io matches a GitLab trusted
	// publisher by (rust-lang/crates.io,
	// src/controllers/trustpub/tokens/exchange/mod.rs): the namespace and
	// project of project_path, namespace_id, the pipeline file of
	// ci_config_ref_uri, and environment.
	ProjectPath    string
	NamespaceID    string
	CIConfigRefURI string
	ExpiresAt      time.Time // zero when absent
	IssuedAt       time.Time // zero when absent
}

// DecodeClaims decodes the payload of a JWT without verifying it. The input
// is bounded by MaxJWT; errors never contain the token. String values are
// sanitized like service messages. aud may be a string or an array.
func DecodeClaims(jwt string) (*Claims, error) {
	if len(jwt) > MaxJWT {
		return nil, fmt.Errorf("token is too large to be a JWT (%d bytes, limit %d)", len(jwt), MaxJWT)
	}
	jwt = strings.TrimSpace(jwt)
	if jwt == "" {
		return nil, errors.New("token is empty")
	}
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("token is not a JWT: %d dot-separated parts, expected 3", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, errors.New("token is not a JWT: the payload is not base64url")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(payload, &raw); err != nil || raw == nil {
		return nil, errors.New("token is not a JWT: the payload is not a JSON object")
	}
	c := &Claims{
		Issuer:          claimString(raw["iss"]),
		Subject:         claimString(raw["sub"]),
		Audience:        claimAudience(raw["aud"]),
		Repository:      claimString(raw["repository"]),
		RepositoryOwner: claimString(raw["repository_owner"]),
		Ref:             claimString(raw["ref"]),
		Environment:     claimString(raw["environment"]),
		JobWorkflowRef:  claimString(raw["job_workflow_ref"]),
		EventName:       claimString(raw["event_name"]),
		RunID:           claimString(raw["run_id"]),
		ProjectPath:     claimString(raw["project_path"]),
		NamespaceID:     claimString(raw["namespace_id"]),
		CIConfigRefURI:  claimString(raw["ci_config_ref_uri"]),
		ExpiresAt:       claimTime(raw["exp"]),
		IssuedAt:        claimTime(raw["iat"]),
	}
	return c, nil
}

func claimString(raw json.RawMessage) string {
	if s, ok := jsonString(raw); ok {
		return CleanMessage(s)
	}
	var n json.Number
	if len(raw) > 0 && json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

func claimAudience(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	if s := claimString(raw); s != "" {
		return []string{s}
	}
	var list []string
	if json.Unmarshal(raw, &list) != nil {
		return nil
	}
	var out []string
	for _, a := range list {
		if a = CleanMessage(a); a != "" {
			out = append(out, a)
		}
		if len(out) == 20 {
			break
		}
	}
	return out
}

// claimTime reads a NumericDate (seconds since the epoch, maybe fractional).
func claimTime(raw json.RawMessage) time.Time {
	var f float64
	if len(raw) == 0 || json.Unmarshal(raw, &f) != nil {
		return time.Time{}
	}
	if f <= 0 || f > 1e11 || math.IsNaN(f) {
		return time.Time{}
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC()
}

// Lines returns the claims for a hint block, omitting empty ones: "iss:
// ...", "aud: ...", "sub: ...", then for a GitLab CI token (one with
// project_path) the claims crates.io matches a GitLab publisher by,
// "project_path", "namespace_id", "ci_config_ref_uri", "environment", else
// GitHub's "repository", "ref", "environment", "job_workflow_ref".
func (c *Claims) Lines() []string {
	if c == nil {
		return nil
	}
	var out []string
	add := func(k, v string) {
		if v != "" {
			out = append(out, k+": "+v)
		}
	}
	add("iss", c.Issuer)
	add("aud", strings.Join(c.Audience, ", "))
	add("sub", c.Subject)
	if c.ProjectPath != "" {
		add("project_path", c.ProjectPath)
		add("namespace_id", c.NamespaceID)
		add("ci_config_ref_uri", c.CIConfigRefURI)
		add("environment", c.Environment)
		return out
	}
	add("repository", c.Repository)
	add("ref", c.Ref)
	add("environment", c.Environment)
	add("job_workflow_ref", c.JobWorkflowRef)
	return out
}

// gitLabHint is crates.io's hint for a refused GitLab CI token (one with
// project_path): the fields of a GitLab trusted publisher; other tokens get
// hint's.
func gitLabHint(status int, c *Claims, hint func(int) string) string {
	if c == nil || c.ProjectPath == "" || status < 400 || status >= 500 || status == 404 || status == 429 {
		return hint(status)
	}
	return "check the crate's GitLab trusted publisher on crates.io: the namespace and project (project_path), the pipeline file " +
		"(in ci_config_ref_uri) and the environment (if one is set) must match the ID token's claims listed below, and the " +
		"id_tokens entry must have aud: " + CratesIOAudience
}
