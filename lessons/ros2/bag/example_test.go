package bag_test

import (
	"fmt"
	"log"

	"github.com/policylab/policylab/lessons/ros2/bag"
	"github.com/policylab/policylab/lessons/ros2/msg"
)

// Reading joint states out of a recording. (Not run: it needs a .db3 file.)
func ExampleBag_TopicMessages() {
	b, err := bag.Open("walker_0.db3")
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	for _, t := range b.Topics() {
		fmt.Println(t.Name, t.Type)
	}
	var js msg.JointState
	err = b.TopicMessages("/joint_states", func(m bag.Message) error {
		if err := msg.Unmarshal(m.Data, &js); err != nil {
			return err
		}
		fmt.Println(m.Time(), js.Name, js.Position)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
}
