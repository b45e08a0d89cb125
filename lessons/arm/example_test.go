package arm_test

import (
	"fmt"
	"math"

	"github.com/policylab/policylab/lessons/arm"
)

// mm formats metres as millimetres, without a "-0.0".
func mm(v float64) string {
	v = math.Round(v*10000) / 10
	if v == 0 {
		v = 0
	}
	return fmt.Sprintf("%.1f", v)
}

func ExampleFK() {
	for _, pose := range []struct {
		name string
		q    [7]float64
	}{{"zero", [7]float64{}}, {"ready", arm.Ready}} {
		c := arm.FK(pose.q)
		f, e := c.Flange.Pos, c.EE.Pos
		fmt.Printf("%-5s flange (%s, %s, %s) mm, hand TCP (%s, %s, %s) mm\n",
			pose.name, mm(f[0]), mm(f[1]), mm(f[2]), mm(e[0]), mm(e[1]), mm(e[2]))
	}
	// Output:
	// zero  flange (88.0, 0.0, 926.0) mm, hand TCP (88.0, 0.0, 822.6) mm
	// ready flange (306.9, 0.0, 590.3) mm, hand TCP (306.9, 0.0, 486.9) mm
}

func ExampleEnv() {
	env, err := arm.New(arm.DefaultConfig(arm.ReachColor))
	if err != nil {
		panic(err)
	}
	expert := arm.DefaultExpert()
	obs := env.Reset(1)
	fmt.Println(obs.Instruction, len(obs.Proprio()), len(obs.Vector()))
	for {
		action := expert.Act(obs)
		var info arm.Info
		var done bool
		obs, _, done, info = env.Step(action)
		if done {
			fmt.Println("success:", info.Success, "held", info.Hold, "steps")
			break
		}
	}
	img := env.Image96()
	fmt.Println(img.Bounds().Dx(), "x", img.Bounds().Dy())
	// Output:
	// reach the blue target 14 32
	// success: true held 5 steps
	// 96 x 96
}
