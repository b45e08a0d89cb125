package resnet

// A plain-Go reference of torchvision's ResNet forward pass, written
// independently of GoMLX: NCHW float64 arrays, PyTorch's OIHW kernels read
// directly from the state_dict (no transposition), loops as in the
// definitions of the operations.

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// refMap is one example's feature map, [channels][height][width].
type refMap struct {
	c, h, w int
	d       []float64
}

func newRefMap(c, h, w int) refMap { return refMap{c, h, w, make([]float64, c*h*w)} }

func (m refMap) at(c, y, x int) float64 { return m.d[(c*m.h+y)*m.w+x] }

// refConv is nn.Conv2d(bias=False) with a PyTorch [out, in, k, k] kernel.
func refConv(x refMap, w []float32, out, k, stride, pad int) refMap {
	oh, ow := (x.h+2*pad-k)/stride+1, (x.w+2*pad-k)/stride+1
	y := newRefMap(out, oh, ow)
	for o := 0; o < out; o++ {
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				var s float64
				for c := 0; c < x.c; c++ {
					for ky := 0; ky < k; ky++ {
						yy := i*stride - pad + ky
						if yy < 0 || yy >= x.h {
							continue
						}
						for kx := 0; kx < k; kx++ {
							xx := j*stride - pad + kx
							if xx < 0 || xx >= x.w {
								continue
							}
							s += float64(w[((o*x.c+c)*k+ky)*k+kx]) * x.at(c, yy, xx)
						}
					}
				}
				y.d[(o*oh+i)*ow+j] = s
			}
		}
	}
	return y
}

// refNorm normalizes a batch: mode "eval" (running stats), "train" (batch
// stats over N, H, W, biased variance) or "group".
func refNorm(xs []refMap, sd map[string][]float32, prefix, mode string, groups int) []refMap {
	gamma, beta := sd[prefix+".weight"], sd[prefix+".bias"]
	c := xs[0].c
	out := make([]refMap, len(xs))
	for n := range xs {
		out[n] = newRefMap(c, xs[n].h, xs[n].w)
	}
	hw := xs[0].h * xs[0].w
	switch mode {
	case "eval", "train":
		for ch := 0; ch < c; ch++ {
			var mean, variance float64
			if mode == "eval" {
				mean, variance = float64(sd[prefix+".running_mean"][ch]), float64(sd[prefix+".running_var"][ch])
			} else {
				for _, x := range xs {
					for p := 0; p < hw; p++ {
						mean += x.d[ch*hw+p]
					}
				}
				mean /= float64(len(xs) * hw)
				for _, x := range xs {
					for p := 0; p < hw; p++ {
						variance += (x.d[ch*hw+p] - mean) * (x.d[ch*hw+p] - mean)
					}
				}
				variance /= float64(len(xs) * hw)
			}
			for n, x := range xs {
				for p := 0; p < hw; p++ {
					out[n].d[ch*hw+p] = (x.d[ch*hw+p]-mean)/math.Sqrt(variance+Epsilon)*float64(gamma[ch]) + float64(beta[ch])
				}
			}
		}
	case "group":
		per := c / groups
		for n, x := range xs {
			for g := 0; g < groups; g++ {
				lo, hi := g*per*hw, (g+1)*per*hw // channels of a group are contiguous in NCHW
				var mean, variance float64
				for i := lo; i < hi; i++ {
					mean += x.d[i]
				}
				mean /= float64(hi - lo)
				for i := lo; i < hi; i++ {
					variance += (x.d[i] - mean) * (x.d[i] - mean)
				}
				variance /= float64(hi - lo)
				for i := lo; i < hi; i++ {
					ch := i / hw
					out[n].d[i] = (x.d[i]-mean)/math.Sqrt(variance+Epsilon)*float64(gamma[ch]) + float64(beta[ch])
				}
			}
		}
	default:
		panic(mode)
	}
	return out
}

func refRelu(xs []refMap) []refMap {
	for _, x := range xs {
		for i, v := range x.d {
			x.d[i] = math.Max(v, 0)
		}
	}
	return xs
}

// refMaxPool is nn.MaxPool2d(3, stride=2, padding=1) (padding is -inf).
func refMaxPool(x refMap) refMap {
	oh, ow := (x.h+2-3)/2+1, (x.w+2-3)/2+1
	y := newRefMap(x.c, oh, ow)
	for c := 0; c < x.c; c++ {
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				m := math.Inf(-1)
				for ky := 0; ky < 3; ky++ {
					for kx := 0; kx < 3; kx++ {
						yy, xx := 2*i-1+ky, 2*j-1+kx
						if yy >= 0 && yy < x.h && xx >= 0 && xx < x.w {
							m = math.Max(m, x.at(c, yy, xx))
						}
					}
				}
				y.d[(c*oh+i)*ow+j] = m
			}
		}
	}
	return y
}

// refForward is torchvision's resnet18 children()[:-1] plus flatten(1):
// images NCHW → [batch][8·Width].
func refForward(images []refMap, sd map[string][]float32, cfg Config, mode string) [][]float64 {
	norm := func(xs []refMap, prefix string) []refMap {
		m := mode
		if cfg.Norm == GroupNorm {
			m = "group"
		}
		return refNorm(xs, sd, prefix, m, cfg.NumGroups(xs[0].c))
	}
	conv := func(xs []refMap, name string, out, k, stride, pad int) []refMap {
		ys := make([]refMap, len(xs))
		for n, x := range xs {
			ys[n] = refConv(x, sd[name], out, k, stride, pad)
		}
		return ys
	}
	x := conv(images, "conv1.weight", cfg.Width, 7, 2, 3)
	x = refRelu(norm(x, "bn1"))
	for n := range x {
		x[n] = refMaxPool(x[n])
	}
	in := cfg.Width
	for l := 0; l < 4; l++ {
		p := cfg.Width << l
		for b := 0; b < cfg.Blocks[l]; b++ {
			stride := 1
			if b == 0 && l > 0 {
				stride = 2
			}
			pre := fmt.Sprintf("layer%d.%d.", l+1, b)
			out := refRelu(norm(conv(x, pre+"conv1.weight", p, 3, stride, 1), pre+"bn1"))
			out = norm(conv(out, pre+"conv2.weight", p, 3, 1, 1), pre+"bn2")
			identity := x
			if stride != 1 || in != p {
				identity = norm(conv(x, pre+"downsample.0.weight", p, 1, stride, 0), pre+"downsample.1")
			}
			for n := range out {
				for i := range out[n].d {
					out[n].d[i] += identity[n].d[i]
				}
			}
			x = refRelu(out)
			in = p
		}
	}
	feats := make([][]float64, len(x))
	for n, m := range x {
		feats[n] = make([]float64, m.c)
		hw := m.h * m.w
		for c := 0; c < m.c; c++ {
			var s float64
			for p := 0; p < hw; p++ {
				s += m.d[c*hw+p]
			}
			feats[n][c] = s / float64(hw)
		}
	}
	return feats
}

// randomStateDict returns torchvision-named random weights for cfg (plus
// fc.* and num_batches_tracked, which LoadTorchvision must ignore), scaled so
// that activations stay of order 1.
func randomStateDict(cfg Config, rng *rand.Rand) (map[string][]float32, map[string][]int) {
	tvShapes := TorchvisionShapes(cfg)
	sd := map[string][]float32{}
	for name, shape := range tvShapes {
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := make([]float32, n)
		switch {
		case len(shape) == 4: // conv kernel: Kaiming fan_in
			std := math.Sqrt(2 / float64(shape[1]*shape[2]*shape[3]))
			for i := range v {
				v[i] = float32(rng.NormFloat64() * std)
			}
		case hasSuffix(name, ".weight"):
			for i := range v {
				v[i] = float32(0.5 + rng.Float64())
			}
		case hasSuffix(name, ".running_var"):
			for i := range v {
				v[i] = float32(0.5 + rng.Float64())
			}
		default: // bias, running_mean
			for i := range v {
				v[i] = float32(0.4 * (rng.Float64() - 0.5))
			}
		}
		sd[name] = v
	}
	return sd, tvShapes
}

func hasSuffix(s, suffix string) bool {
	return len(s) >= len(suffix) && s[len(s)-len(suffix):] == suffix
}

// randomImages returns the same images NHWC (flat, for GoMLX) and NCHW (for
// the reference).
func randomImages(n, h, w int, rng *rand.Rand) ([]float32, []refMap) {
	flat := make([]float32, n*h*w*3)
	maps := make([]refMap, n)
	for b := 0; b < n; b++ {
		maps[b] = newRefMap(3, h, w)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				for c := 0; c < 3; c++ {
					v := float32(rng.NormFloat64())
					flat[((b*h+y)*w+x)*3+c] = v
					maps[b].d[(c*h+y)*w+x] = float64(v)
				}
			}
		}
	}
	return flat, maps
}
