package ros2_test

import (
	"context"
	"fmt"
	"time"

	"github.com/policylab/policylab/lessons/ros2"
	"github.com/policylab/policylab/lessons/ros2/msg"
)

// Two nodes on one domain: a talker publishes on /chatter with rclcpp's
// default QoS, a listener prints what it receives.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const domain = 59 // ROS_DOMAIN_ID; use ros2.DomainFromEnv() in a real node
	listener, err := ros2.NewNode(ctx, "listener", domain)
	if err != nil {
		panic(err)
	}
	defer listener.Close()
	heard := make(chan string, 10)
	if _, err := ros2.Subscribe[msg.String](listener, "/chatter", ros2.DefaultQoS(), func(m *msg.String, _ ros2.Info) {
		heard <- m.Data
	}); err != nil {
		panic(err)
	}
	talker, err := ros2.NewNode(ctx, "talker", domain)
	if err != nil {
		panic(err)
	}
	defer talker.Close()
	pub, err := ros2.NewPublisher[msg.String](talker, "/chatter", ros2.DefaultQoS())
	if err != nil {
		panic(err)
	}
	if err := pub.WaitMatched(ctx, 1); err != nil {
		panic(err)
	}
	topic, _ := ros2.TopicName("/chatter")
	typ, _ := msg.DDSTypeName("std_msgs/msg/String")
	fmt.Println("DDS topic", topic, "type", typ)
	if err := pub.Publish(&msg.String{Data: "Hello, world! 0"}); err != nil {
		panic(err)
	}
	fmt.Println("heard:", <-heard)
	// Output:
	// DDS topic rt/chatter type std_msgs::msg::dds_::String_
	// heard: Hello, world! 0
}
