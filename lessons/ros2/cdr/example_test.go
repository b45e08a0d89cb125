package cdr_test

import (
	"fmt"

	"github.com/policylab/policylab/lessons/ros2/cdr"
)

func Example() {
	var e cdr.Encoder
	e.Uint8(7)     // offset 0
	e.Float64(0.5) // 8-aligned: 7 pad bytes first, then offsets 8 to 15
	e.String("hi") // length 3 (the NUL counts), "hi", NUL: offsets 16 to 22
	msg := e.Encapsulated()
	fmt.Printf("% x\n", msg[:4])
	fmt.Printf("% x\n", msg[4:12])
	fmt.Printf("% x\n", msg[12:20])
	fmt.Printf("% x\n", msg[20:])

	d, err := cdr.NewMessageDecoder(msg)
	if err != nil {
		panic(err)
	}
	fmt.Println(d.Uint8(), d.Float64(), d.StringValue(), d.Err())

	// A sequence length is checked against the bytes left before anything
	// is allocated for it.
	d.Reset([]byte{0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4}, false)
	fmt.Println(d.Float64s(), d.Err())
	// Output:
	// 00 01 00 01
	// 07 00 00 00 00 00 00 00
	// 00 00 00 00 00 00 e0 3f
	// 03 00 00 00 68 69 00 00
	// 7 0.5 hi <nil>
	// [] cdr: offset 0: sequence length 2147483647 of 8-byte elements exceeds the 4 bytes left
}
