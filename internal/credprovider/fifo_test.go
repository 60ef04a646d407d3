//go:build unix

package credprovider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cargo-oidc/cargo-oidc/internal/testenv"
)

// TestFilesThatAreNotRegularFailAtOnce: a named pipe (or another file that
// is not a regular one) at the minted-token record or at --id-token-file
// makes the request fail within seconds, not block the provider in open(2)
// past its timeout. A minted crates.io token that cannot be recorded is
// revoked at once and not answered, and nothing is written into the pipe.
func TestFilesThatAreNotRegularFailAtOnce(t *testing.T) {
	t.Parallel()
	const minted = "cio_tp_fifo0123456789"
	tests := []struct {
		name string
		// setup makes the odd file in dir and returns the extra arguments.
		setup func(t *testing.T, dir string) []string
		// reader, when set, is opened on the pipe before the request.
		reader  string
		want    string
		revokes int32
	}{
		{"record is a named pipe", func(t *testing.T, dir string) []string {
			mkfifo(t, filepath.Join(dir, "tokens"))
			return []string{"--" + RecordArg + "=" + filepath.Join(dir, "tokens")}
		}, "", "is not a regular file (a named pipe)", 1},
		{"record is a named pipe with a reader", func(t *testing.T, dir string) []string {
			mkfifo(t, filepath.Join(dir, "tokens"))
			return []string{"--" + RecordArg + "=" + filepath.Join(dir, "tokens")}
		}, "tokens", "is not a regular file (a named pipe)", 1},
		{"record is a folder", func(t *testing.T, dir string) []string {
			if err := os.Mkdir(filepath.Join(dir, "tokens"), 0o700); err != nil {
				t.Fatal(err)
			}
			return []string{"--" + RecordArg + "=" + filepath.Join(dir, "tokens")}
		}, "", "cannot record", 1},
		{"id token file is a named pipe", func(t *testing.T, dir string) []string {
			mkfifo(t, filepath.Join(dir, "id"))
			return []string{"--id-token-file=" + filepath.Join(dir, "id")}
		}, "", "is not a regular file (a named pipe)", 0},
		{"id token file is a folder", func(t *testing.T, dir string) []string {
			return []string{"--id-token-file=" + dir}
		}, "", "is not a regular file (a folder)", 0},
		{"id token file is a device", func(t *testing.T, dir string) []string {
			return []string{"--id-token-file=/dev/null"}
		}, "", "is not a regular file (a device)", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var issued, revoked atomic.Int32
			mux := http.NewServeMux()
			serveIDToken(mux, "", nil)
			mux.HandleFunc("POST /api/v1/trusted_publishing/tokens", func(w http.ResponseWriter, r *http.Request) {
				issued.Add(1)
				fmt.Fprintf(w, `{"token":%q}`, minted)
			})
			mux.HandleFunc("DELETE /api/v1/trusted_publishing/tokens", func(w http.ResponseWriter, r *http.Request) {
				if got := r.Header.Get("Authorization"); got != "Bearer "+minted {
					t.Errorf("revocation with Authorization %q", got)
				}
				revoked.Add(1)
				w.WriteHeader(http.StatusNoContent)
			})
			srv := httptest.NewTLSServer(mux)
			t.Cleanup(srv.Close)
			dir := testenv.TempDir(t)
			args := append([]string{"--provider=crates-io", "--url=" + srv.URL}, tt.setup(t, dir)...)
			var pipe *os.File
			if tt.reader != "" {
				var err error
				if pipe, err = os.OpenFile(filepath.Join(dir, tt.reader), os.O_RDONLY|syscall.O_NONBLOCK, 0); err != nil {
					t.Fatal(err)
				}
				defer pipe.Close()
			}
			req, _ := json.Marshal(Request{V: 1, Kind: "get", Operation: "publish",
				Registry: Registry{IndexURL: "https://github.com/rust-lang/crates.io-index", Name: "crates-io"}, Args: args})
			env := map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": srv.URL + "/_apis/token?api-version=2.0", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "rt"}
			var out bytes.Buffer
			done := make(chan error, 1)
			go func() {
				done <- Serve(context.Background(), Env{Getenv: testenv.Getenv(env),
					Stdin: strings.NewReader(string(req) + "\n"), Stdout: &out, HTTP: srv.Client(), Now: func() time.Time { return now }, TempDir: func() string { return dir }})
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Serve: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the provider did not answer within 10 seconds: it is blocked opening the file")
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != 2 {
				t.Fatalf("output %q, want the hello and one answer", out.String())
			}
			var a map[string]json.RawMessage
			if err := json.Unmarshal([]byte(lines[1]), &a); err != nil {
				t.Fatal(err)
			}
			if a["Ok"] != nil || !strings.Contains(string(a["Err"]), tt.want) || strings.Contains(lines[1], minted) {
				t.Errorf("answer = %s; want an error saying %q, without the token", lines[1], tt.want)
			}
			if got := revoked.Load(); got != tt.revokes || got != issued.Load() {
				t.Errorf("%d tokens minted, %d revoked; want %d revoked, every minted one", issued.Load(), got, tt.revokes)
			}
			if pipe != nil {
				buf := make([]byte, 256)
				if n, _ := pipe.Read(buf); n > 0 {
					t.Errorf("the token went into the pipe: %q", buf[:n])
				}
			}
		})
	}
}

func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
}
