//go:build grading

package ex3lora

import (
	"github.com/gomlx/gomlx/core/graph"
)

// LoRAForward is a linear layer with a LoRA adapter (section 4.2.4, "VLA
// fine-tuning with LoRA"; Hu et al. 2021), as lessons/lora computes it:
//
//	y = x·W + bias + scale·(x·Aᵀ)·Bᵀ
//
// with the frozen base weights W [in, out] and bias [out], the adapter's
// A [r, in] and B [out, r] (rank r), and scale = α/r. x is [..., in]: any
// number of leading axes (a batch [batch, in], or a sequence
// [batch, tokens, in]), contracted on its last axis; y is [..., out].
// Since B starts at zero, a fresh adapter leaves the layer as it was.
//
// Useful: graph.DotGeneral(x, []int{x.Rank() - 1}, nil, m, []int{k}, nil)
// contracts x's last axis with axis k of m (k = 0 for W; for Aᵀ and Bᵀ,
// their axis 1), graph.MulScalar, graph.Add. Add broadcasts only between
// equal ranks (or a scalar): give bias x's rank with
// graph.ExpandLeftToRank(bias, x.Rank()).
func LoRAForward(x, w, bias, a, b *graph.Node, scale float64) *graph.Node {
	dot := func(x, m *graph.Node, k int) *graph.Node { // x's last axis · m's axis k
		return graph.DotGeneral(x, []int{x.Rank() - 1}, nil, m, []int{k}, nil)
	}
	y := graph.Add(dot(x, w, 0), graph.ExpandLeftToRank(bias, x.Rank())) // [..., out]
	update := dot(dot(x, a, 1), b, 1)                                    // [..., r] → [..., out]
	return graph.Add(y, graph.MulScalar(update, scale))
}

// LoRAMerge folds an adapter into the weights it adapts, for inference at
// the base model's cost:
//
//	W' = W + scale·(B·A)ᵀ,   W'[i][o] = W[i][o] + scale·Σ_k B[o][k]·A[k][i]
//
// Every matrix is flat, in row-major order as lessons/lora stores it:
// w holds W [in, out] (W[i][o] = w[i*out+o]), a holds A [r, in]
// (A[k][i] = a[k*in+i]) and b holds B [out, r] (B[o][k] = b[o*r+k]). It
// returns W' flat [in·out], the same layout as w (writing into w is
// allowed). With W' in place of W, and no adapter, the layer computes
// what LoRAForward computed.
func LoRAMerge(w, a, b []float32, in, out, r int, scale float64) []float32 {
	merged := make([]float32, in*out)
	for i := 0; i < in; i++ {
		for o := 0; o < out; o++ {
			var s float64
			for k := 0; k < r; k++ {
				s += float64(b[o*r+k]) * float64(a[k*in+i])
			}
			merged[i*out+o] = w[i*out+o] + float32(scale*s)
		}
	}
	return merged
}
