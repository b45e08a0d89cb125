package msg_test

import (
	"fmt"
	"time"

	"github.com/policylab/policylab/lessons/ros2/msg"
)

func Example() {
	// What a ROS 2 talker publishes on /chatter.
	data := msg.Marshal(&msg.String{Data: "Hello, world! 1"})
	fmt.Printf("% x\n", data[:4])  // encapsulation header: CDR_LE, no padding needed
	fmt.Printf("% x\n", data[4:8]) // string length 16, the NUL included
	fmt.Printf("%q\n", data[8:])

	var s msg.String
	if err := msg.Unmarshal(data, &s); err != nil {
		panic(err)
	}
	fmt.Println(s.Data)

	name, _ := msg.DDSTypeName(s.TypeName())
	fmt.Println(name)
	// Output:
	// 00 01 00 00
	// 10 00 00 00
	// "Hello, world! 1\x00"
	// Hello, world! 1
	// std_msgs::msg::dds_::String_
}

func ExampleUnmarshal() {
	js := &msg.JointState{
		Header:   msg.Header{Stamp: msg.TimeFrom(time.Unix(1700000000, 5e8)), FrameID: "base_link"},
		Name:     []string{"shoulder", "elbow"},
		Position: []float64{0.5, -1.25},
	}
	data := msg.Marshal(js)
	fmt.Println(len(data), "bytes, options byte", data[3])

	// Decode generically, as a bag reader or a topic echo would.
	m, err := msg.New("sensor_msgs/msg/JointState")
	if err != nil {
		panic(err)
	}
	if err := msg.Unmarshal(data, m); err != nil {
		panic(err)
	}
	got := m.(*msg.JointState)
	fmt.Println(got.Header.Stamp.Time().Format(time.RFC3339Nano), got.Header.FrameID, got.Name, got.Position, got.Velocity == nil)

	// Cut short, it is an error naming the type and the offset, never a panic.
	fmt.Println(msg.Unmarshal(data[:40], m))
	// Output:
	// 92 bytes, options byte 0
	// 2023-11-14T22:13:20.5Z base_link [shoulder elbow] [0.5 -1.25] true
	// msg: sensor_msgs/msg/JointState: offset 24: sequence length 2 of 5-byte elements exceeds the 8 bytes left
}

func ExampleDDSTypeName() {
	for _, t := range []string{"sensor_msgs/msg/JointState", "trajectory_msgs/msg/JointTrajectory", "JointState"} {
		fmt.Println(msg.DDSTypeName(t))
	}
	// Output:
	// sensor_msgs::msg::dds_::JointState_ <nil>
	// trajectory_msgs::msg::dds_::JointTrajectory_ <nil>
	//  msg: malformed ROS type name "JointState": want package/interface/Name, e.g. sensor_msgs/msg/JointState
}
