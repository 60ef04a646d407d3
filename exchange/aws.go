package exchange

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Service names of the two AWS calls, used in HTTPError.Service and
// RequestError.Service.
const (
	ServiceSTS          = "aws sts"
	ServiceCodeArtifact = "aws codeartifact"
)

// AWS endpoint variables, read the way the AWS SDKs and CLI read them: the
// service's own variable first, then the global one. Setting
// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS to true ignores both.
const (
	EnvEndpointURL             = "AWS_ENDPOINT_URL"
	EnvEndpointURLSTS          = "AWS_ENDPOINT_URL_STS"
	EnvEndpointURLCodeArtifact = "AWS_ENDPOINT_URL_CODEARTIFACT"
	EnvIgnoreEndpointURLs      = "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"
)

// AWSEndpoints are the base URLs of STS and CodeArtifact.
type AWSEndpoints struct {
	STS, CodeArtifact string
}

// AWSDefaultEndpoints are the regional endpoints of region:
// https://sts.<region>.amazonaws.com and
// https://codeartifact.<region>.amazonaws.com, with the amazonaws.com.cn
// suffix for the China regions (cn-).
func AWSDefaultEndpoints(region string) AWSEndpoints {
	suffix := "amazonaws.com"
	if strings.HasPrefix(region, "cn-") {
		suffix = "amazonaws.com.cn"
	}
	return AWSEndpoints{
		STS:          "https://sts." + region + "." + suffix,
		CodeArtifact: "https://codeartifact." + region + "." + suffix,
	}
}

// AWSEndpointsFromEnv returns the endpoints for region: the regional
// defaults, overridden by AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL_CODEARTIFACT
// or AWS_ENDPOINT_URL (VPC endpoints, proxies, tests). An override must be
// an https URL without query, fragment or user info; the error names the
// variable.
func AWSEndpointsFromEnv(getenv func(string) string, region string) (AWSEndpoints, error) {
	ep := AWSDefaultEndpoints(region)
	if getenv == nil || strings.EqualFold(strings.TrimSpace(getenv(EnvIgnoreEndpointURLs)), "true") {
		return ep, nil
	}
	pick := func(specific string, def *string) error {
		name, v := specific, strings.TrimSpace(getenv(specific))
		if v == "" {
			name, v = EnvEndpointURL, strings.TrimSpace(getenv(EnvEndpointURL))
		}
		if v == "" {
			return nil
		}
		u, err := url.Parse(v)
		switch {
		case err != nil || u.Host == "":
			return fmt.Errorf("%s %q is not a URL; give the endpoint's base URL, like https://vpce-1234.sts.%s.vpce.amazonaws.com", name, displayEndpoint(v), region)
		case u.Scheme != "https":
			return fmt.Errorf("%s must be an https URL (got scheme %q): the ID token and the AWS credentials would travel in clear text", name, u.Scheme)
		case u.User != nil || u.RawQuery != "" || u.Fragment != "":
			return fmt.Errorf("%s must not hold user info, a query or a fragment", name)
		}
		*def = strings.TrimRight(displayURL(u), "/")
		return nil
	}
	err := errors.Join(pick(EnvEndpointURLSTS, &ep.STS), pick(EnvEndpointURLCodeArtifact, &ep.CodeArtifact))
	return ep, err
}

// displayEndpoint is an endpoint variable's value as it may be shown, parsable
// or not: without query and fragment (everything from the first ? or #) and
// without user info (everything between the scheme's // and the last @:
// a password may hold a slash, so the last @ anywhere counts), cleaned.
func displayEndpoint(v string) string {
	if i := strings.IndexAny(v, "?#"); i >= 0 {
		v = v[:i]
	}
	if at := strings.LastIndexByte(v, '@'); at >= 0 {
		start := 0
		if i := strings.Index(v, "//"); i >= 0 && i < at {
			start = i + 2
		}
		v = v[:start] + v[at+1:]
	}
	return CleanMessage(v)
}

// awsError is an AWS error answer: the Query protocol's XML
// (<ErrorResponse><Error><Code>..</Code><Message>..</Message></Error>) or
// the JSON protocols' {"message": ..} with the code in the
// x-amzn-ErrorType header or a __type / code field.
type awsError struct {
	Code    string
	Message string
}

// maxAWSCode bounds an error code read from an answer.
const maxAWSCode = 100

// parseAWSError reads an AWS error answer; ok is false when body holds
// neither shape. Code and Message are cleaned for quoting.
func parseAWSError(header http.Header, body []byte) (e awsError, ok bool) {
	if len(body) > maxErrorBody {
		body = body[:maxErrorBody]
	}
	// <ErrorResponse><Error>..</Error></ErrorResponse> (STS), or a bare
	// <Error>..</Error> (S3-style).
	var x struct {
		XMLName xml.Name
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
		Error   struct {
			Code    string `xml:"Code"`
			Message string `xml:"Message"`
		} `xml:"Error"`
	}
	if t := strings.TrimSpace(string(body)); strings.HasPrefix(t, "<") && !looksHTML(body, "") {
		if xml.Unmarshal(body, &x) == nil {
			code, msg := x.Error.Code, x.Error.Message
			if x.XMLName.Local == "Error" {
				code, msg = x.Code, x.Message
			}
			if code != "" || msg != "" {
				return awsError{Code: awsCode(code), Message: CleanMessage(msg)}, true
			}
		}
	}
	var j struct {
		Type     string `json:"__type"`
		Code     string `json:"code"`
		Message  string `json:"message"`
		MessageU string `json:"Message"`
	}
	if json.Unmarshal(body, &j) == nil {
		e.Message = CleanMessage(j.Message)
		if e.Message == "" {
			e.Message = CleanMessage(j.MessageU)
		}
		e.Code = j.Type
		if e.Code == "" {
			e.Code = j.Code
		}
		ok = e.Message != "" || e.Code != ""
	}
	if header != nil {
		if h := header.Get("X-Amzn-Errortype"); h != "" {
			e.Code, ok = h, true
		}
	}
	e.Code = awsCode(e.Code)
	return e, ok
}

// awsCode trims an error type to its code: "ns#Code:http://..." -> "Code".
func awsCode(s string) string {
	if i := strings.LastIndexByte(s, '#'); i >= 0 {
		s = s[i+1:]
	}
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	s = CleanMessage(s)
	if len(s) > maxAWSCode {
		s = strings.ToValidUTF8(s[:maxAWSCode], "")
	}
	return s
}

// String is "Code: message", or whichever is known.
func (e awsError) String() string {
	switch {
	case e.Code != "" && e.Message != "":
		return e.Code + ": " + e.Message
	case e.Code != "":
		return e.Code
	}
	return e.Message
}

// awsThrottled reports whether an AWS answer asks to slow down: the codes
// the AWS SDKs retry as throttling (the Query protocol sends them with 400).
func awsThrottled(status int, header http.Header, body []byte) bool {
	if status == http.StatusTooManyRequests {
		return true
	}
	e, ok := parseAWSError(header, body)
	if !ok {
		return false
	}
	switch e.Code {
	case "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
		"TooManyRequestsException", "RequestLimitExceeded", "SlowDown", "RequestThrottled",
		"BandwidthLimitExceeded", "TransactionInProgressException", "PriorRequestNotComplete",
		"EC2ThrottledException", "ProvisionedThroughputExceededException":
		return true
	}
	return false
}

// awsMessage is a svcCall parse function for AWS error answers.
func awsMessage(body []byte) string {
	if e, ok := parseAWSError(nil, body); ok {
		return e.String()
	}
	return ""
}
