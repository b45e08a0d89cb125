package denoiser

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// This file recomputes UNet1D and MLP in plain Go, with loops written from
// Diffusion Policy's module definitions, reading the weights from the store,
// to check the graph's wiring (FiLM's scale/bias split, skip order, concat
// order, up/down sampling, transposed convolution).

// seq is a channels-last sequence [length][channels] of one example.
type seq [][]float64

// refWeights reads variables under a prefix.
type refWeights struct {
	store  *model.Store
	prefix string
}

func (w refWeights) get(path string) []float64 {
	v := w.store.GetVariable(w.prefix + path)
	if v == nil {
		panic("no variable " + w.prefix + path)
	}
	f := tensors.MustCopyFlatData[float32](v.MustValue())
	out := make([]float64, len(f))
	for i, x := range f {
		out[i] = float64(x)
	}
	return out
}

func refLinear(w refWeights, path string, x []float64, out int) []float64 {
	W, b := w.get(path+"/weights"), w.get(path+"/biases")
	y := make([]float64, out)
	for o := 0; o < out; o++ {
		y[o] = b[o]
		for i := range x {
			y[o] += x[i] * W[i*out+o]
		}
	}
	return y
}

func refMish(x float64) float64 { return mishRef(x) }

// refConv1d: PyTorch Conv1d with bias; weights [k, in, out].
func refConv1d(w refWeights, path string, x seq, out, k, stride, pad int) seq {
	W, b := w.get(path+"/weights"), w.get(path+"/biases")
	in, L := len(x[0]), len(x)
	Lout := (L+2*pad-k)/stride + 1
	y := make(seq, Lout)
	for p := range y {
		y[p] = make([]float64, out)
		for o := 0; o < out; o++ {
			s := b[o]
			for j := 0; j < k; j++ {
				q := p*stride - pad + j
				if q < 0 || q >= L {
					continue
				}
				for c := 0; c < in; c++ {
					s += x[q][c] * W[(j*in+c)*out+o]
				}
			}
			y[p][o] = s
		}
	}
	return y
}

// refConvTranspose1d: PyTorch ConvTranspose1d with bias;
// out[i·stride − pad + j] += x[i]·w[j].
func refConvTranspose1d(w refWeights, path string, x seq, out, k, stride, pad int) seq {
	W, b := w.get(path+"/weights"), w.get(path+"/biases")
	in, L := len(x[0]), len(x)
	Lout := (L-1)*stride - 2*pad + k
	y := make(seq, Lout)
	for p := range y {
		y[p] = append([]float64(nil), b...)
	}
	for i := 0; i < L; i++ {
		for j := 0; j < k; j++ {
			p := i*stride - pad + j
			if p < 0 || p >= Lout {
				continue
			}
			for c := 0; c < in; c++ {
				for o := 0; o < out; o++ {
					y[p][o] += x[i][c] * W[(j*in+c)*out+o]
				}
			}
		}
	}
	return y
}

func refGroupNorm(w refWeights, path string, x seq, groups int) seq {
	scale, offset := w.get(path+"/scale"), w.get(path+"/offset")
	C := len(x[0])
	per := C / groups
	y := make(seq, len(x))
	for p := range y {
		y[p] = make([]float64, C)
	}
	for g := 0; g < groups; g++ {
		var mean, v float64
		n := float64(len(x) * per)
		for p := range x {
			for c := g * per; c < (g+1)*per; c++ {
				mean += x[p][c]
			}
		}
		mean /= n
		for p := range x {
			for c := g * per; c < (g+1)*per; c++ {
				v += (x[p][c] - mean) * (x[p][c] - mean)
			}
		}
		v /= n
		for p := range x {
			for c := g * per; c < (g+1)*per; c++ {
				y[p][c] = (x[p][c]-mean)/math.Sqrt(v+1e-5)*scale[c] + offset[c]
			}
		}
	}
	return y
}

func refConv1dBlock(w refWeights, path string, cfg UNetConfig, x seq, out int) seq {
	h := refConv1d(w, path+"/block/0", x, out, cfg.KernelSize, 1, cfg.KernelSize/2)
	h = refGroupNorm(w, path+"/block/1", h, cfg.Groups)
	for p := range h {
		for c := range h[p] {
			h[p][c] = refMish(h[p][c])
		}
	}
	return h
}

func refResBlock(w refWeights, path string, cfg UNetConfig, x seq, cond []float64, out int) seq {
	h := refConv1dBlock(w, path+"/blocks/0", cfg, x, out)
	mc := make([]float64, len(cond))
	for i, v := range cond {
		mc[i] = refMish(v)
	}
	film := refLinear(w, path+"/cond_encoder/1", mc, cfg.filmChannels(out))
	for p := range h {
		for c := 0; c < out; c++ {
			if cfg.CondPredictScale {
				h[p][c] = film[c]*h[p][c] + film[out+c]
			} else {
				h[p][c] += film[c]
			}
		}
	}
	h = refConv1dBlock(w, path+"/blocks/1", cfg, h, out)
	res := x
	if len(x[0]) != out {
		res = refConv1d(w, path+"/residual_conv", x, out, 1, 1, 0)
	}
	for p := range h {
		for c := range h[p] {
			h[p][c] += res[p][c]
		}
	}
	return h
}

func refSinusoidal(t float64, dim int) []float64 {
	half := dim / 2
	e := make([]float64, dim)
	for i := 0; i < half; i++ {
		f := math.Exp(float64(i) * -(math.Log(10000) / float64(half-1)))
		e[i], e[half+i] = math.Sin(t*f), math.Cos(t*f)
	}
	return e
}

func refUNet(w refWeights, cfg UNetConfig, x seq, t float64, c []float64) seq {
	D := cfg.TimeEmbedDim
	cond := refLinear(w, "diffusion_step_encoder/1", refSinusoidal(t, D), 4*D)
	for i := range cond {
		cond[i] = refMish(cond[i])
	}
	cond = append(refLinear(w, "diffusion_step_encoder/3", cond, D), c...)
	dims := append([]int{len(x[0])}, cfg.DownDims...)
	var h []seq
	L := len(cfg.DownDims)
	for i := 0; i < L; i++ {
		p := "down_modules/" + itoa(i)
		x = refResBlock(w, p+"/0", cfg, x, cond, dims[i+1])
		x = refResBlock(w, p+"/1", cfg, x, cond, dims[i+1])
		h = append(h, x)
		if i < L-1 {
			x = refConv1d(w, p+"/2/conv", x, dims[i+1], 3, 2, 1)
		}
	}
	x = refResBlock(w, "mid_modules/0", cfg, x, cond, dims[L])
	x = refResBlock(w, "mid_modules/1", cfg, x, cond, dims[L])
	for j := 0; j < L-1; j++ {
		skip := h[len(h)-1]
		h = h[:len(h)-1]
		cat := make(seq, len(x))
		for p := range x {
			cat[p] = append(append([]float64(nil), x[p]...), skip[p]...)
		}
		in := dims[L-1-j]
		p := "up_modules/" + itoa(j)
		x = refResBlock(w, p+"/0", cfg, cat, cond, in)
		x = refResBlock(w, p+"/1", cfg, x, cond, in)
		x = refConvTranspose1d(w, p+"/2/conv", x, in, 4, 2, 1)
	}
	x = refConv1dBlock(w, "final_conv/0", cfg, x, cfg.DownDims[0])
	return refConv1d(w, "final_conv/1", x, dims[0], 1, 1, 0)
}

func itoa(i int) string { return string(rune('0' + i)) }

func refMLP(w refWeights, cfg MLPConfig, x seq, t float64, c []float64) seq {
	H := cfg.Hidden
	te := refLinear(w, "time_embed/1", refSinusoidal(t, H), H)
	for i := range te {
		te[i] = math.Max(te[i], 0)
	}
	te = refLinear(w, "time_embed/3", te, H)
	var in []float64
	for _, row := range x {
		in = append(in, row...)
	}
	in = append(append(in, c...), te...)
	for i := 0; i < 3; i++ {
		in = refLinear(w, "net/"+itoa(2*i), in, H)
		for j := range in {
			in[j] = math.Max(in[j], 0)
		}
	}
	A := len(x[0])
	out := refLinear(w, "net/6", in, len(x)*A)
	y := make(seq, len(x))
	for p := range y {
		y[p] = out[p*A : (p+1)*A]
	}
	return y
}

// toSeqs splits [batch, length, channels] float32 data into sequences.
func toSeqs(t *tensors.Tensor) []seq {
	d := t.Shape().Dimensions
	f := tensors.MustCopyFlatData[float32](t)
	out := make([]seq, d[0])
	for b := range out {
		out[b] = make(seq, d[1])
		for p := range out[b] {
			out[b][p] = make([]float64, d[2])
			for c := range out[b][p] {
				out[b][p][c] = float64(f[(b*d[1]+p)*d[2]+c])
			}
		}
	}
	return out
}

func TestAgainstPlainGo(t *testing.T) {
	b := getBackend(t)
	rng := rand.New(rand.NewPCG(21, 22))
	const batch, condDim = 2, 3
	ts := []float32{4, 71}
	for _, c := range []struct {
		name    string
		unet    *UNetConfig
		horizon int
	}{
		{"unet-film", &UNetConfig{DownDims: []int{8, 16, 24}, KernelSize: 3, Groups: 4, TimeEmbedDim: 8, CondPredictScale: true}, 8},
		{"unet-bias", &UNetConfig{DownDims: []int{8, 12}, KernelSize: 5, Groups: 2, TimeEmbedDim: 6}, 6},
		{"mlp", nil, 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			store := model.NewStore()
			var e *model.Exec
			prefix := "/mlp/"
			if c.unet != nil {
				e, prefix = buildUNet(b, store, *c.unet, condDim), "/unet/"
			} else {
				e = buildMLP(b, store, MLPConfig{Hidden: 8})
			}
			x, cond := randTensor(rng, batch, c.horizon, 2), randTensor(rng, batch, condDim)
			got := toSeqs(e.MustCall1(x, steps(ts...), cond))
			xs := toSeqs(x)
			cf := tensors.MustCopyFlatData[float32](cond)
			w := refWeights{store, prefix}
			for bi := 0; bi < batch; bi++ {
				cv := make([]float64, condDim)
				for i := range cv {
					cv[i] = float64(cf[bi*condDim+i])
				}
				var want seq
				if c.unet != nil {
					want = refUNet(w, *c.unet, xs[bi], float64(ts[bi]), cv)
				} else {
					want = refMLP(w, MLPConfig{Hidden: 8}, xs[bi], float64(ts[bi]), cv)
				}
				for p := range want {
					for ch := range want[p] {
						if d := math.Abs(got[bi][p][ch] - want[p][ch]); d > 1e-4*math.Max(1, math.Abs(want[p][ch])) {
							t.Fatalf("example %d position %d channel %d: graph %g, plain Go %g", bi, p, ch, got[bi][p][ch], want[p][ch])
						}
					}
				}
			}
		})
	}
}
