package fastddspeer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func buildPeer(t *testing.T) string {
	t.Helper()
	start := time.Now()
	bin, err := Build(t.TempDir())
	if errors.Is(err, ErrMissing) {
		t.Skipf("Fast DDS peer not buildable: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built %s in %v", bin, time.Since(start).Round(time.Millisecond))
	return bin
}

// peerCmd prepares a peer process. It runs in an empty directory with no
// Fast DDS XML profile variables, so a stray DEFAULT_FASTRTPS_PROFILES.xml
// cannot change its QoS.
func peerCmd(ctx context.Context, t *testing.T, bin string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = t.TempDir()
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "FASTRTPS_DEFAULT_PROFILES_FILE=") || strings.HasPrefix(kv, "FASTDDS_DEFAULT_PROFILES_FILE=") {
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	return cmd, &stdout, &stderr
}

// runPair starts the subscriber, then runs the publisher, and returns the
// subscriber's stdout once both have exited successfully.
func runPair(t *testing.T, bin string, subArgs, pubArgs []string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sub, subOut, subErr := peerCmd(ctx, t, bin, subArgs...)
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	pub, pubOut, pubErr := peerCmd(ctx, t, bin, pubArgs...)
	start := time.Now()
	pubRunErr := pub.Run()
	subRunErr := sub.Wait()
	t.Logf("pub+sub took %v", time.Since(start).Round(time.Millisecond))
	if pubRunErr != nil || subRunErr != nil {
		t.Fatalf("pub %v: %v\nstdout:\n%s\nstderr:\n%s\nsub %v: %v\nstdout:\n%s\nstderr:\n%s",
			pubArgs, pubRunErr, pubOut, pubErr, subArgs, subRunErr, subOut, subErr)
	}
	if !strings.Contains(pubOut.String(), "sent 0 ") {
		t.Errorf("publisher output lacks \"sent 0\":\n%s", pubOut)
	}
	return subOut.Bytes()
}

// testDomain picks the domain for the pub/sub pairs: 101..199, above the
// 1..100 the ros2 and deploy tests use. A concurrent run of this test that
// lands on the same domain sends identical messages, which the checks below
// tolerate.
func testDomain() int { return 101 + rand.IntN(99) }

// timeoutDomain picks a domain for the timeout checks: 200..232, used by no
// other test here. Runs that collide on it only start sub-jointstate and
// pub-trajectory processes, which never match each other.
func timeoutDomain() int { return 200 + rand.IntN(33) }

func TestPeerSelfTest(t *testing.T) {
	bin := buildPeer(t)
	domain := testDomain()
	d := fmt.Sprint(domain)

	t.Run("trajectory", func(t *testing.T) {
		out := runPair(t, bin,
			[]string{"sub-trajectory", "-domain", d, "-timeout-s", "30"},
			[]string{"pub-trajectory", "-domain", d, "-match-timeout-s", "30"})
		got, err := ParseJointTrajectories(out)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 {
			t.Fatalf("got %d samples, want 1:\n%s", len(got), out)
		}
		if want := WantTrajectory(); !reflect.DeepEqual(got[0], want) {
			t.Errorf("got  %+v\nwant %+v", got[0], want)
		}
	})

	t.Run("jointstate", func(t *testing.T) {
		const n = 3
		out := runPair(t, bin,
			[]string{"sub-jointstate", "-domain", d, "-count", fmt.Sprint(n), "-timeout-s", "30"},
			[]string{"pub-jointstate", "-domain", d, "-count", "5", "-period-ms", "50", "-match-timeout-s", "30"})
		got, err := ParseJointStates(out)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != n {
			t.Fatalf("got %d samples, want %d:\n%s", len(got), n, out)
		}
		var seq []int
		for k, m := range got {
			i := int(m.StampSec) - 1700000000
			seq = append(seq, i)
			if i < 0 || i >= 5 {
				t.Errorf("sample %d: stamp %d out of range", k, m.StampSec)
				continue
			}
			if want := WantJointState(i); !reflect.DeepEqual(m, want) {
				t.Errorf("sample %d:\ngot  %+v\nwant %+v", k, m, want)
			}
		}
		t.Logf("received sample indexes %v", seq)
		// The publisher waits for the match and the QoS is RELIABLE, so the
		// very first sample must arrive. (Only 0,1,2 is expected; a
		// concurrent run of this test on the same domain could interleave
		// its own identical samples.)
		if len(seq) == 0 || seq[0] != 0 {
			t.Errorf("first received sample index %v, want 0", seq)
		}
	})

	t.Run("loopback", func(t *testing.T) {
		out := runPair(t, bin,
			[]string{"sub-trajectory", "-domain", d, "-loopback", "-timeout-s", "30"},
			[]string{"pub-trajectory", "-domain", d, "-loopback", "-match-timeout-s", "30"})
		got, err := ParseJointTrajectories(out)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || !reflect.DeepEqual(got[0], WantTrajectory()) {
			t.Errorf("got %+v", got)
		}
	})

	t.Run("timeouts", func(t *testing.T) {
		// Nobody else uses this domain/topic pair in the test, so both must
		// give up with exit status 2.
		other := fmt.Sprint(timeoutDomain())
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		for _, args := range [][]string{
			{"sub-jointstate", "-domain", other, "-timeout-s", "1"},
			{"pub-trajectory", "-domain", other, "-match-timeout-s", "1"},
		} {
			cmd, _, stderr := peerCmd(ctx, t, bin, args...)
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Errorf("%v: err %v, want exit status 2; stderr:\n%s", args, err, stderr)
			}
		}
	})

	t.Run("usage", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd, _, stderr := peerCmd(ctx, t, bin, "bogus-mode")
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "usage:") {
			t.Errorf("err %v, stderr:\n%s", err, stderr)
		}
	})
}

func TestMissingPackage(t *testing.T) {
	for _, tc := range []struct{ msg, want string }{
		{"peer.cpp:21:10: fatal error: fastcdr/Cdr.h: No such file or directory", "libfastcdr-dev"},
		{"peer.cpp:25:10: fatal error: fastdds/dds/core/status/PublicationMatchedStatus.hpp: No such file or directory", "libfastrtps-dev"},
		{"/usr/bin/ld: cannot find -lfastrtps: No such file or directory", "libfastrtps-dev"},
		{"/usr/bin/ld: cannot find -lfastcdr", "libfastcdr-dev"},
		{"peer.cpp:1:1: error: expected ';'", ""},
	} {
		got := missingPackage(tc.msg)
		if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("missingPackage(%q) = %q, want mention of %q", tc.msg, got, tc.want)
		}
	}
}

func TestBuildMissingCompiler(t *testing.T) {
	t.Setenv("CXX", "no-such-compiler-for-fastddspeer")
	_, err := Build(t.TempDir())
	if !errors.Is(err, ErrMissing) {
		t.Fatalf("Build with missing compiler: %v, want ErrMissing", err)
	}
}

func TestWantJointState(t *testing.T) {
	m := WantJointState(2)
	if m.StampSec != 1700000002 || m.Position[0] != 2.1 || m.Velocity[6] != -3.5 || len(m.Name) != 7 {
		t.Errorf("WantJointState(2) = %+v", m)
	}
}

// TestBuildMissingHeaders hides every system header from the compiler (an
// empty --sysroot), which is how a machine without libfastrtps-dev looks to
// peer.cpp's first #include.
func TestBuildMissingHeaders(t *testing.T) {
	cxx, err := exec.LookPath("g++")
	if err != nil {
		t.Skip("no g++")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "fake-cxx")
	body := fmt.Sprintf("#!/bin/sh\nexec %q --sysroot=%q \"$@\"\n", cxx, filepath.Join(dir, "empty-sysroot"))
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CXX", script)
	_, err = Build(filepath.Join(dir, "out"))
	if !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), "libfastrtps-dev") {
		t.Fatalf("Build without headers: %v, want ErrMissing naming libfastrtps-dev", err)
	}
	t.Log(err)
}

func TestBuildCached(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	a, err := BuildCached()
	if errors.Is(err, ErrMissing) {
		t.Skipf("Fast DDS peer not buildable: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	b, err := BuildCached()
	if err != nil || a != b {
		t.Fatalf("second BuildCached = %q, %v; want %q", b, err, a)
	}
	if fi, err := os.Stat(a); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("cached peer %s: %v", a, err)
	}
}
