package runner

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/cargo-oidc/cargo-oidc/e2e/internal/container"
)

// Host returns a Runtime that runs the built binary directly on the host, in
// the workspace, with the host paths (HOME is RUNNER_TEMP/_github_home). The
// post stage runs `binary post ARGS...`.
func Host(binary string) Runtime {
	return HostRuntime{Binary: binary}
}

// HostRuntime is the Runtime Host returns, with a hook for tests that
// measure the action's process (its peak memory, for example).
type HostRuntime struct {
	// Binary is the built action.
	Binary string
	// Watch, when set, is called with each stage's process once it has
	// started; the function it returns, when not nil, is called with the
	// process's state once it has exited, before the step's files are read.
	Watch func(p *os.Process) (exited func(*os.ProcessState))
}

// String names the runtime for messages.
func (h HostRuntime) String() string { return "host " + filepath.Base(h.Binary) }

func (h HostRuntime) exec(ctx context.Context, inv *invocation) (int, error) {
	args := inv.args
	if inv.stage == Post {
		args = append([]string{"post"}, args...)
	}
	cmd := exec.CommandContext(ctx, h.Binary, args...)
	cmd.Dir = inv.job.workspace
	cmd.Env = inv.env
	cmd.Stdout, cmd.Stderr = inv.stdout, inv.stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return exitCode(ctx, err)
	}
	var exited func(*os.ProcessState)
	if h.Watch != nil {
		exited = h.Watch(cmd.Process)
	}
	err := cmd.Wait()
	if exited != nil {
		exited(cmd.ProcessState)
	}
	return exitCode(ctx, err)
}

// Container returns a Runtime that runs image through Podman with the
// runner's `docker run` flags: the /github/ mounts, --workdir
// /github/workspace, -e for every variable with host paths rewritten to
// container paths, --network=host, and --entrypoint <runs.post-entrypoint>
// for the post stage. PATH is not passed: the container keeps the image's.
func Container(engine *container.Engine, image string) Runtime {
	return containerRuntime{engine: engine, image: image}
}

type containerRuntime struct {
	engine *container.Engine
	image  string
}

func (c containerRuntime) String() string { return "container " + c.image }

func (c containerRuntime) exec(ctx context.Context, inv *invocation) (int, error) {
	env := make([]string, 0, len(inv.env))
	for _, kv := range inv.env {
		if len(kv) >= 5 && kv[:5] == "PATH=" {
			continue
		}
		env = append(env, kv)
	}
	opts := container.RunOptions{
		Workspace:  inv.job.workspace,
		RunnerTemp: inv.job.temp,
		Env:        env,
		Args:       inv.args,
		Stdout:     inv.stdout,
		Stderr:     inv.stderr,
	}
	if inv.stage == Post {
		if inv.postEntrypoint == "" {
			return -1, fmt.Errorf("action has no post-entrypoint")
		}
		opts.Entrypoint = inv.postEntrypoint
	}
	res, err := c.engine.Run(ctx, c.image, opts)
	if err != nil {
		return -1, err
	}
	return res.ExitCode, nil
}
