package data

import (
	"fmt"
	"math/rand"
	"reflect"
	"testing"
)

// randomDataset makes a NaN-free dataset with episodes of the given
// lengths, alternating between two tasks.
func randomDataset(seed int64, lengths []int, sd, ad int) *Dataset {
	rng := rand.New(rand.NewSource(seed))
	ds := &Dataset{Name: "rand", FPS: 10, RobotType: "test-bot", Tasks: []string{"reach the red target", "push the T"}}
	for k := 0; k < sd; k++ {
		ds.StateNames = append(ds.StateNames, fmt.Sprintf("s%d", k))
	}
	for k := 0; k < ad; k++ {
		ds.ActionNames = append(ds.ActionNames, fmt.Sprintf("a%d", k))
	}
	for i, T := range lengths {
		e := Episode{Index: i, Task: ds.Tasks[i%2], Seed: rng.Int63(), Success: i%3 != 1, Score: rng.Float64()}
		for t := 0; t < T; t++ {
			s := make([]float32, sd)
			for k := range s {
				s[k] = float32(rng.NormFloat64() * 3)
			}
			a := make([]float32, ad)
			for k := range a {
				a[k] = float32(rng.Float64()*2 - 1)
			}
			e.States = append(e.States, s)
			e.Actions = append(e.Actions, a)
			e.Rewards = append(e.Rewards, float32(rng.Float64()))
		}
		ds.Episodes = append(ds.Episodes, e)
	}
	return ds
}

// tinyDataset: 2 episodes, StateDim 1 (state = 10*episode + frame), ActionDim
// 1 (action = 100 + 10*episode + frame); lengths 3 and 5.
func tinyDataset() *Dataset {
	ds := &Dataset{Name: "tiny", FPS: 10, StateNames: []string{"x"}, ActionNames: []string{"u"}, Tasks: []string{"t"}}
	for i, T := range []int{3, 5} {
		e := Episode{Index: i, Task: "t"}
		for t := 0; t < T; t++ {
			e.States = append(e.States, []float32{float32(10*i + t)})
			e.Actions = append(e.Actions, []float32{float32(100 + 10*i + t)})
		}
		ds.Episodes = append(ds.Episodes, e)
	}
	return ds
}

// equalDatasets reports the first difference between two datasets.
func equalDatasets(t *testing.T, want, got *Dataset) {
	t.Helper()
	if want.Name != got.Name || want.FPS != got.FPS || want.RobotType != got.RobotType {
		t.Fatalf("header: want %q %v %q, got %q %v %q", want.Name, want.FPS, want.RobotType, got.Name, got.FPS, got.RobotType)
	}
	for _, c := range []struct {
		name string
		a, b any
	}{{"StateNames", want.StateNames, got.StateNames}, {"ActionNames", want.ActionNames, got.ActionNames}, {"Tasks", want.Tasks, got.Tasks}} {
		if !reflect.DeepEqual(c.a, c.b) {
			t.Fatalf("%s: want %q, got %q", c.name, c.a, c.b)
		}
	}
	if len(want.Episodes) != len(got.Episodes) {
		t.Fatalf("want %d episodes, got %d", len(want.Episodes), len(got.Episodes))
	}
	for i := range want.Episodes {
		w, g := &want.Episodes[i], &got.Episodes[i]
		if w.Index != g.Index || w.Task != g.Task || w.Seed != g.Seed || w.Success != g.Success || w.Score != g.Score {
			t.Fatalf("episode %d: want %d %q %d %v %v, got %d %q %d %v %v", i, w.Index, w.Task, w.Seed, w.Success, w.Score, g.Index, g.Task, g.Seed, g.Success, g.Score)
		}
		if !reflect.DeepEqual(w.States, g.States) {
			t.Fatalf("episode %d: states differ", i)
		}
		if !reflect.DeepEqual(w.Actions, g.Actions) {
			t.Fatalf("episode %d: actions differ", i)
		}
		if !reflect.DeepEqual(w.Rewards, g.Rewards) {
			t.Fatalf("episode %d: rewards differ: %v vs %v", i, w.Rewards, g.Rewards)
		}
	}
}
