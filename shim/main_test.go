package shim

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/pixi-lima/pixi-lima/env"
	"github.com/pixi-lima/pixi-lima/env/settings"
	"github.com/pixi-lima/pixi-lima/lima"
)

func TestIsCheap(t *testing.T) {
	for _, tc := range []struct {
		tool string
		args string
		want bool
	}{
		// Never boot for these: no engine is needed to answer.
		{"docker", "", true},
		{"docker", "--version", true},
		{"docker", "-v", true},
		{"docker", "--help", true},
		{"docker", "-h", true},
		{"docker", "help", true},
		{"docker", "completion bash", true},
		{"docker", "__complete ps ''", true},
		{"docker", "__completeNoDesc run", true},
		{"docker", "docker-cli-plugin-metadata", true},
		{"docker", "ps --help", true},
		{"docker", "compose up --help", true},
		{"docker", "image ls -h", true},
		{"docker", "compose", true},
		{"docker", "compose version", true},
		{"docker", "compose --version", true},
		{"docker", "compose docker-cli-plugin-metadata", true}, // docker probing the plugin
		{"docker-compose", "", true},
		{"docker-compose", "version", true},
		{"docker-compose", "--version", true},
		{"docker-compose", "up --help", true},
		// These need the engine.
		{"docker", "version", false}, // docker version asks the server too
		{"docker", "ps", false},
		{"docker", "run alpine --help", false}, // --help goes to the container
		{"docker", "run --help", true},
		{"docker", "exec c --help", false},
		{"docker", "create img -h", false},
		{"docker", "image ls nginx:1 --help", false},
		{"docker", "ps -a --help", false},
		{"docker", "a b c --help", false},
		{"docker", "--context x ps", false},
		{"docker", "compose up", false},
		{"docker", "compose -f x.yml up --help", false},
		{"docker-compose", "up", false},
		{"docker-compose", "ps", false},
	} {
		var args []string
		if tc.args != "" {
			args = strings.Fields(tc.args)
		}
		if got := isCheap(tc.tool, args); got != tc.want {
			t.Errorf("isCheap(%s %q) = %v, want %v", tc.tool, tc.args, got, tc.want)
		}
	}
}

func TestReportFormat(t *testing.T) {
	var buf bytes.Buffer
	code := report(&buf, &Error{Code: ExitFailed, Msg: "it broke", Hint: "pixi-lima doctor",
		Tail: []string{"line 1", "line 2"}, Logs: []string{"/a.log", "/b.log"}})
	want := "pixi-lima: it broke\n  last lines:\n    line 1\n    line 2\n  full log: /a.log and /b.log\n  hint: pixi-lima doctor\n"
	if code != ExitFailed || buf.String() != want {
		t.Errorf("report = %d,\n%s\nwant %d,\n%s", code, buf.String(), ExitFailed, want)
	}
}

// TestErrorCodes: every error from below maps to its documented code.
func TestErrorCodes(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
		hint string
	}{
		{&settings.Error{Source: "PIXI_LIMA_CPUS", Msg: "got x"}, ExitConfig, "pixi-lima help settings"},
		{fmt.Errorf("wrapped: %w", &env.SocketPathError{Path: "/p", Length: 110, Limit: 108}), ExitConfig, "3 bytes too long"},
		{fmt.Errorf("finding: %w", env.ErrNoProject), ExitConfig, "PIXI_PROJECT_ROOT"},
		{&lima.StageError{Stage: "starting VM", Err: errors.New("exit status 1")}, ExitFailed, "pixi-lima stop"},
		{fmt.Errorf("starting: %w", &lima.RosettaError{Why: "this is linux/amd64"}), ExitConfig, "PIXI_LIMA_ROSETTA=false"},
		{&Error{Code: ExitRefused, Msg: "no"}, ExitRefused, ""},
		{errors.New("anything else"), ExitFailed, ""},
	} {
		e := asError(tc.err)
		if e.Code != tc.code || !strings.Contains(e.Hint, tc.hint) || e.Msg == "" {
			t.Errorf("%v: code %d hint %q; want %d and a hint with %q", tc.err, e.Code, e.Hint, tc.code, tc.hint)
		}
	}
}

// TestDispatch checks which part a name reaches, without running a tool:
// only calls that end in an error before any exec are used.
func TestDispatch(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"/x/.pixi/bin/docker", "ps"}, ExitLoop, "docker was wrapped"},
		{[]string{"docker-compose", "up"}, ExitLoop, "docker-compose was wrapped"},
		{[]string{"pixi-lima", "docker", "ps"}, ExitLoop, "docker was wrapped"},
		{[]string{"pixi-lima", "docker-compose"}, ExitLoop, "docker-compose was wrapped"},
		{[]string{"pixi-lima", "bogus"}, ExitUsage, `unknown command "bogus"`},
		{[]string{"anything-else", "stauts"}, ExitUsage, `did you mean "status"?`},
		{[]string{"docker", "pixi-lima"}, ExitLoop, "docker was wrapped"}, // a shim name is not re-dispatched
	} {
		var stdout, stderr bytes.Buffer
		s := &session{stdout: &stdout, stderr: &stderr, getenv: func(k string) string {
			if k == depthVar {
				return "8"
			}
			return ""
		}}
		err := s.dispatch(tc.args)
		e := asError(err)
		if e.Code != tc.code || !strings.Contains(e.Msg, tc.msg) {
			t.Errorf("%q: %d %q; want %d with %q", tc.args, e.Code, e.Msg, tc.code, tc.msg)
		}
		if stdout.Len() != 0 {
			t.Errorf("%q wrote to stdout: %q", tc.args, stdout.String())
		}
	}
}

func TestForceArg0(t *testing.T) {
	t.Setenv(forceArg0Var, "docker")
	s := &session{stdout: new(bytes.Buffer), stderr: new(bytes.Buffer), getenv: func(k string) string {
		if k == depthVar {
			return "8"
		}
		return ""
	}}
	e := asError(s.dispatch([]string{"pixi-lima", "status"}))
	if e.Code != ExitLoop || !strings.Contains(e.Msg, "docker was wrapped") {
		t.Errorf("PIXI_LIMA_FORCE_ARG0=docker: %d %q, want the docker path", e.Code, e.Msg)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/plain":     "'/plain'",
		"/a b":       "'/a b'",
		"it's":       `'it'\''s'`,
		"$HOME;`x`":  "'$HOME;`x`'",
		"":           "''",
		"unix:///s/": "'unix:///s/'",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
