package sim

import (
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
)

// Replay resets env with seed, applies the recorded actions ([T][ActionDim],
// e.g. one dataset episode) and returns the T+1 frames rendered at size
// pixels: the initial scene and the scene after each action. It stops early
// when the episode ends.
func Replay(env Env, seed int64, actions [][]float32, size int) ([]image.Image, error) {
	spec := env.Spec()
	env.Reset(seed)
	frames := []image.Image{env.Render(size)}
	for t, a := range actions {
		if err := checkAction(spec, a); err != nil {
			return frames, fmt.Errorf("sim: replay step %d: %w", t, err)
		}
		st := env.Step(a)
		frames = append(frames, env.Render(size))
		if st.Done {
			break
		}
	}
	return frames, nil
}

// WritePNGs writes frames as dir/frame-0000.png, frame-0001.png, ...
// creating dir. It returns the paths written.
func WritePNGs(dir string, frames []image.Image) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	var paths []string
	for i, f := range frames {
		p := filepath.Join(dir, fmt.Sprintf("frame-%04d.png", i))
		out, err := os.Create(p)
		if err != nil {
			return paths, fmt.Errorf("sim: %w", err)
		}
		err = png.Encode(out, f)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return paths, fmt.Errorf("sim: writing %s: %w", p, err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}
