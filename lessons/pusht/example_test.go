package pusht_test

import (
	"fmt"

	"github.com/policylab/policylab/lessons/pusht"
)

func Example() {
	env, err := pusht.New(pusht.DefaultConfig())
	if err != nil {
		panic(err)
	}
	g := pusht.GoalPose
	// Agent in a corner, block exactly on the goal.
	obs := env.ResetTo([5]float64{60, 60, g.X, g.Y, g.Theta})
	fmt.Printf("coverage at the goal pose: %.6f\n", env.Coverage())
	fmt.Println("state:", len(obs.State), "keypoint obs:", len(obs.Keypoints))

	// A scripted expert episode.
	x := pusht.NewExpert()
	x.Reset(1)
	obs = env.Reset(1)
	for {
		var done bool
		var info pusht.Info
		obs, _, done, info = env.Step(x.Act(obs))
		if done {
			fmt.Println("expert success:", info.Success)
			break
		}
	}
	// Output:
	// coverage at the goal pose: 1.000000
	// state: 5 keypoint obs: 20
	// expert success: true
}
