package data

import (
	"fmt"
	"math"
	"math/rand"
	"sort"
)

// Sampler cuts episodes into the fixed-length training windows of Diffusion
// Policy (Chi et al. 2023): for frame t of an episode, the policy sees the
// To = obsHorizon most recent observations
//
//	States[t-To+1], ..., States[t]
//
// and learns to predict the Tp = predHorizon actions
//
//	Actions[t], ..., Actions[t+Tp-1].
//
// Every frame of every chosen episode is the anchor t of exactly one window,
// so Len() is the number of frames. Indices before the start of the episode
// repeat its first frame and indices past its end repeat its last frame, as
// Diffusion Policy's SequenceSampler does with pad_before = To-1 and
// pad_after = Ta-1 (its sample_sequence fills the padding with the edge
// sample); a window never reaches into another episode. (Diffusion Policy
// samples one sequence of length Tp starting at t-To+1 and takes both its
// first To observations and all of its actions, past ones included; here
// actions start at the current frame t, as they are executed.)
//
// A Sampler only reads the dataset; it is safe for concurrent use.
type Sampler struct {
	ds          *Dataset
	episodes    []int
	obsH, predH int
	sdim, adim  int
	// anchors[i] is (position in ds.Episodes, frame) of window i.
	anchors []anchor
}

type anchor struct{ ep, t int32 }

// NewSampler makes a sampler over the given episodes of ds (positions in
// ds.Episodes; nil means all), with obsHorizon To >= 1 observations and
// predHorizon Tp >= 1 actions per window. Diffusion Policy's Push-T setting
// is To = 2, Tp = 16.
func NewSampler(ds *Dataset, episodes []int, obsHorizon, predHorizon int) (*Sampler, error) {
	if ds == nil {
		return nil, fmt.Errorf("data: NewSampler: nil dataset")
	}
	if obsHorizon < 1 || predHorizon < 1 {
		return nil, fmt.Errorf("data: NewSampler: horizons must be at least 1, got obsHorizon %d, predHorizon %d", obsHorizon, predHorizon)
	}
	if episodes == nil {
		episodes = make([]int, len(ds.Episodes))
		for i := range episodes {
			episodes[i] = i
		}
	}
	s := &Sampler{
		ds: ds, episodes: append([]int(nil), episodes...),
		obsH: obsHorizon, predH: predHorizon,
		sdim: ds.StateDim(), adim: ds.ActionDim(),
	}
	for _, ei := range s.episodes {
		if ei < 0 || ei >= len(ds.Episodes) {
			return nil, fmt.Errorf("data: NewSampler: episode %d out of range [0, %d)", ei, len(ds.Episodes))
		}
		e := &ds.Episodes[ei]
		if len(e.States) == 0 {
			return nil, fmt.Errorf("data: NewSampler: episode %d has no frames", ei)
		}
		if len(e.Actions) != len(e.States) {
			return nil, fmt.Errorf("data: NewSampler: episode %d has %d actions for %d states", ei, len(e.Actions), len(e.States))
		}
		if len(e.States) > math.MaxInt32 || ei > math.MaxInt32 {
			return nil, fmt.Errorf("data: NewSampler: episode %d too large", ei)
		}
		for t := range e.States {
			if len(e.States[t]) != s.sdim {
				return nil, fmt.Errorf("data: NewSampler: episode %d frame %d: observation.state has %d values, want %d", ei, t, len(e.States[t]), s.sdim)
			}
			if len(e.Actions[t]) != s.adim {
				return nil, fmt.Errorf("data: NewSampler: episode %d frame %d: action has %d values, want %d", ei, t, len(e.Actions[t]), s.adim)
			}
			s.anchors = append(s.anchors, anchor{int32(ei), int32(t)})
		}
	}
	return s, nil
}

// Len is the number of windows: the frames of the sampler's episodes.
func (s *Sampler) Len() int { return len(s.anchors) }

// ObsHorizon is To, the observations per window.
func (s *Sampler) ObsHorizon() int { return s.obsH }

// PredHorizon is Tp, the actions per window.
func (s *Sampler) PredHorizon() int { return s.predH }

// StateDim is the length of each observation.
func (s *Sampler) StateDim() int { return s.sdim }

// ActionDim is the length of each action.
func (s *Sampler) ActionDim() int { return s.adim }

// Episodes are the positions in the dataset of the sampler's episodes.
func (s *Sampler) Episodes() []int { return append([]int(nil), s.episodes...) }

// Anchor returns the episode (position in the dataset) and frame t that
// window i is anchored at.
func (s *Sampler) Anchor(i int) (episode, frame int) {
	a := s.anchors[i]
	return int(a.ep), int(a.t)
}

func clampInt(v, lo, hi int) int {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

// Window returns window i as fresh copies: obs [To][StateDim] for frames
// t-To+1..t and act [Tp][ActionDim] for frames t..t+Tp-1, edge frames
// repeated where the window leaves its episode. It panics if i is out of
// [0, Len()).
func (s *Sampler) Window(i int) (obs [][]float32, act [][]float32) {
	a := s.anchors[i]
	e := &s.ds.Episodes[a.ep]
	T, t := len(e.States), int(a.t)
	obs = make([][]float32, s.obsH)
	for k := range obs {
		obs[k] = append([]float32(nil), e.States[clampInt(t-s.obsH+1+k, 0, T-1)]...)
	}
	act = make([][]float32, s.predH)
	for k := range act {
		act[k] = append([]float32(nil), e.Actions[clampInt(t+k, 0, T-1)]...)
	}
	return obs, act
}

// Batch gathers the windows at indices into two new flat row-major
// buffers: obs [B, To, StateDim] and act [B, Tp, ActionDim], where B is
// len(indices); element (b, k, d) of obs is obs[(b*To+k)*StateDim+d].
func (s *Sampler) Batch(indices []int) (obs, act []float32) {
	return s.BatchInto(indices, nil, nil)
}

// BatchInto is Batch writing into obs and act when their capacity suffices
// (they are reallocated otherwise); it returns the filled buffers, resliced
// to B*To*StateDim and B*Tp*ActionDim. It panics if an index is out of
// [0, Len()).
func (s *Sampler) BatchInto(indices []int, obs, act []float32) ([]float32, []float32) {
	B := len(indices)
	no, na := B*s.obsH*s.sdim, B*s.predH*s.adim
	if cap(obs) < no {
		obs = make([]float32, no)
	}
	if cap(act) < na {
		act = make([]float32, na)
	}
	obs, act = obs[:no], act[:na]
	for b, i := range indices {
		if i < 0 || i >= len(s.anchors) {
			panic(fmt.Sprintf("data: Sampler.BatchInto: index %d out of range [0, %d)", i, len(s.anchors)))
		}
		a := s.anchors[i]
		e := &s.ds.Episodes[a.ep]
		T, t := len(e.States), int(a.t)
		o := obs[b*s.obsH*s.sdim:]
		for k := 0; k < s.obsH; k++ {
			copy(o[k*s.sdim:(k+1)*s.sdim], e.States[clampInt(t-s.obsH+1+k, 0, T-1)])
		}
		p := act[b*s.predH*s.adim:]
		for k := 0; k < s.predH; k++ {
			copy(p[k*s.adim:(k+1)*s.adim], e.Actions[clampInt(t+k, 0, T-1)])
		}
	}
	return obs, act
}

// SplitEpisodes splits episode positions 0..n-1 into training and
// validation sets, by episode so that no episode's frames fall on both
// sides. The validation set holds round(n*valFraction) episodes, at least
// one when valFraction > 0 and at most n-1 (Diffusion Policy's
// get_val_mask rule), chosen by a shuffle seeded with seed. Both lists are
// sorted; the same arguments always give the same split.
func SplitEpisodes(n int, valFraction float64, seed int64) (train, val []int) {
	if n <= 0 {
		return nil, nil
	}
	nVal := 0
	if valFraction > 0 && n > 1 {
		nVal = int(math.Round(float64(n) * valFraction))
		nVal = clampInt(nVal, 1, n-1)
	}
	perm := rand.New(rand.NewSource(seed)).Perm(n)
	val = append([]int(nil), perm[:nVal]...)
	train = append([]int(nil), perm[nVal:]...)
	sort.Ints(train)
	sort.Ints(val)
	if len(val) == 0 {
		val = []int{}
	}
	return train, val
}

// Splits are a policy's training and validation samplers (Val may be nil).
type Splits struct {
	Train, Val *Sampler
}

// Pick returns the validation sampler when val, else the training one
// (either may be nil).
func (s Splits) Pick(val bool) *Sampler {
	if val {
		return s.Val
	}
	return s.Train
}

// Len is the number of windows of Pick(val), 0 when it is nil.
func (s Splits) Len(val bool) int {
	if p := s.Pick(val); p != nil {
		return p.Len()
	}
	return 0
}
