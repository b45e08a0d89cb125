package plot

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"image/png"

	"github.com/janpfeifer/gonb/gonbui"
)

// PNG encodes an image as PNG bytes.
func PNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("plot: encoding PNG: %w", err)
	}
	return buf.Bytes(), nil
}

// ImageHTML is an <img> with the image inlined as a PNG data URL, scaled by
// an integer factor with crisp pixels (simulator frames are small).
func ImageHTML(img image.Image, scale int) (string, error) {
	b, err := PNG(img)
	if err != nil {
		return "", err
	}
	return imgTag("image/png", b, img.Bounds().Dx()*max(scale, 1)), nil
}

func imgTag(mime string, data []byte, width int) string {
	return fmt.Sprintf(`<img src="data:%s;base64,%s" width="%d" style="image-rendering:pixelated" data-policylab-image="1"/>`,
		mime, base64.StdEncoding.EncodeToString(data), width)
}

// GIF encodes frames as an animated GIF that loops, fps frames per second.
// Frames are quantised to the web-safe palette with Floyd-Steinberg
// dithering. All frames must have the size of the first.
func GIF(frames []image.Image, fps float64) ([]byte, error) {
	if len(frames) == 0 {
		return nil, fmt.Errorf("plot: GIF needs at least one frame")
	}
	if !(fps > 0) {
		return nil, fmt.Errorf("plot: GIF fps must be positive, got %v", fps)
	}
	delay := max(int(100/fps+0.5), 2) // in 1/100 s; browsers clamp below 2
	bounds := frames[0].Bounds()
	anim := &gif.GIF{LoopCount: 0}
	pal := color.Palette(palette.WebSafe)
	for i, f := range frames {
		if f.Bounds().Size() != bounds.Size() {
			return nil, fmt.Errorf("plot: GIF frame %d is %v, want %v like frame 0", i, f.Bounds().Size(), bounds.Size())
		}
		p := image.NewPaletted(image.Rect(0, 0, bounds.Dx(), bounds.Dy()), pal)
		draw.FloydSteinberg.Draw(p, p.Bounds(), f, f.Bounds().Min)
		anim.Image = append(anim.Image, p)
		anim.Delay = append(anim.Delay, delay)
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, anim); err != nil {
		return nil, fmt.Errorf("plot: encoding GIF: %w", err)
	}
	return buf.Bytes(), nil
}

// GIFHTML is an <img> with an animated GIF of the frames inlined.
func GIFHTML(frames []image.Image, fps float64, scale int) (string, error) {
	b, err := GIF(frames, fps)
	if err != nil {
		return "", err
	}
	return imgTag("image/gif", b, frames[0].Bounds().Dx()*max(scale, 1)), nil
}

// ShowImage displays one image in the notebook, scaled by an integer factor.
func ShowImage(img image.Image, scale int) error {
	if !gonbui.IsNotebook {
		return ErrNotNotebook
	}
	h, err := ImageHTML(img, scale)
	if err != nil {
		return err
	}
	gonbui.DisplayHTML(h)
	gonbui.Sync() // flush before the cell's program exits, or the output can be lost
	return nil
}

// ShowGIF displays frames as an animation in the notebook.
func ShowGIF(frames []image.Image, fps float64, scale int) error {
	if !gonbui.IsNotebook {
		return ErrNotNotebook
	}
	h, err := GIFHTML(frames, fps, scale)
	if err != nil {
		return err
	}
	gonbui.DisplayHTML(h)
	gonbui.Sync() // flush before the cell's program exits, or the output can be lost
	return nil
}

// ShowMarkdown displays Markdown (e.g. a results table) in the notebook.
func ShowMarkdown(md string) error {
	if !gonbui.IsNotebook {
		return ErrNotNotebook
	}
	gonbui.DisplayMarkdown(md)
	gonbui.Sync() // flush before the cell's program exits, or the output can be lost
	return nil
}
