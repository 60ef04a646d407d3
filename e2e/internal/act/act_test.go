package act

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestArgs(t *testing.T) {
	t.Parallel()
	r := &Runner{JobImage: "localhost/job:abc", dir: "/tmp/cargo-oidc-act-123"}
	got := r.Args(Run{Dir: "/repo", Workflow: ".github/workflows/ci.yml", Job: "build",
		Matrix:            map[string]string{"os": "ubuntu-latest", "arch": "x64"},
		LocalRepositories: map[string]string{"actions/setup-go@v5": "/stub"},
		Env:               map[string]string{"B": "2", "A": "1"},
		Secrets:           map[string]string{"S": "x"},
		Mounts:            []Mount{{Host: "/ca", Container: "/ca", ReadOnly: true}, {Host: "/h", Container: "/c"}}})
	want := []string{"push", "-W", ".github/workflows/ci.yml", "-P", "ubuntu-latest=localhost/job:abc",
		"--action-offline-mode", "--pull=false", "--network", "host", "--bind", "--rm", "--no-cache-server",
		"--container-daemon-socket", "-", "-j", "build", "--matrix", "arch:x64", "--matrix", "os:ubuntu-latest", "--local-repository", "actions/setup-go@v5=/stub", "--env", "A=1", "--env", "B=2", "-s", "S=x",
		"--container-options", "--label " + ContainerLabel + "=cargo-oidc-act-123 -v /ca:/ca:ro -v /h:/c"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Args:\n got %q\nwant %q", got, want)
	}
	if got := r.Args(Run{Workflow: "w.yml", Event: "workflow_dispatch"}); got[0] != "workflow_dispatch" || slices.Contains(got, "-j") || slices.Contains(got, "--matrix") ||
		got[len(got)-1] != "--label "+ContainerLabel+"=cargo-oidc-act-123" {
		t.Errorf("Args with an event and no job: %q", got)
	}
}

// TestCIInstallsThisVersion keeps .ci/run installing the act this package
// is written against.
func TestCIInstallsThisVersion(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "ACT_VERSION="+Version+"\n") {
		t.Errorf(".ci/run does not install act %s", Version)
	}
}
