package course

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Root returns the course repository's root folder, found as OutDir
// finds it.
func Root() (string, error) {
	out, err := OutDir(".")
	if err != nil {
		return "", err
	}
	return filepath.Dir(out), nil
}

// OutDir returns (and creates) the folder out/<name> at the root of the
// course repository, where notebooks keep datasets, checkpoints and
// frames. The root is found from the notebook's folder ($GONB_DIR) or the
// working directory, by looking upward for kernel/setup.sh.
func OutDir(name string) (string, error) {
	var starts []string
	if d := os.Getenv("GONB_DIR"); d != "" {
		starts = append(starts, d)
	}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	for _, start := range starts {
		dir, err := filepath.Abs(start)
		if err != nil {
			continue
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "kernel", "setup.sh")); err == nil {
				out := filepath.Join(dir, "out", name)
				if err := os.MkdirAll(out, 0o755); err != nil {
					return "", fmt.Errorf("course: %w", err)
				}
				return out, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", fmt.Errorf("course: no course repository (kernel/setup.sh) above %v", starts)
}

// WriteJSON writes v, indented, to path ("-": to stdout): the -json output
// of the course's commands.
func WriteJSON(path string, stdout io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
