package main

import (
	"fmt"
	"strings"
	"testing"
)

// module is a small optimized HLO module in the text form XLA dumps:
// a reducer, two fusion bodies, a command buffer called from ENTRY.
const module = `HloModule jit_fused_ddim, is_scheduled=true, entry_computation_layout={(f32[1,16,2]{2,1,0})->f32[1,16,2]{2,1,0}}

%region_0.1 (Arg_0.2: f32[], Arg_1.3: f32[]) -> f32[] {
  %Arg_0.2 = f32[] parameter(0)
  %Arg_1.3 = f32[] parameter(1)
  ROOT %add.4 = f32[] add(f32[] %Arg_0.2, f32[] %Arg_1.3)
}

%fused_reduce (param_0.5: f32[1,16,2]) -> f32[1,2] {
  %param_0.5 = f32[1,16,2]{2,1,0} parameter(0)
  %constant_1 = f32[] constant(0)
  ROOT %reduce.2 = f32[1,2]{1,0} reduce(f32[1,16,2]{2,1,0} %param_0.5, f32[] %constant_1), dimensions={1}, to_apply=%region_0.1
}

%fused_mish (param_0.7: f32[1,16,2]) -> f32[1,16,2] {
  %param_0.7 = f32[1,16,2]{2,1,0} parameter(0)
  ROOT %tanh.1 = f32[1,16,2]{2,1,0} tanh(f32[1,16,2]{2,1,0} %param_0.7)
}

%command_buffer (p0: f32[1,16,2], p1: f32[2,2]) -> f32[1,16,2] {
  %p0 = f32[1,16,2]{2,1,0} parameter(0)
  %p1 = f32[2,2]{1,0} parameter(1)
  %loop_fusion = f32[1,16,2]{2,1,0} fusion(f32[1,16,2]{2,1,0} %p0), kind=kLoop, calls=%fused_mish
  %gemm = (f32[16,2]{1,0}, s8[0]{0}) custom-call(f32[1,16,2]{2,1,0} %loop_fusion, f32[2,2]{1,0} %p1), custom_call_target="__cublas$gemm", backend_config={"gemm_backend_config":{"alpha_real":1}}
  %get-tuple-element.1 = f32[16,2]{1,0} get-tuple-element((f32[16,2]{1,0}, s8[0]{0}) %gemm), index=0
  ROOT %bitcast.3 = f32[1,16,2]{2,1,0} bitcast(f32[16,2]{1,0} %get-tuple-element.1)
}

ENTRY %main.9 (Arg_0.1: f32[1,16,2], Arg_1.2: f32[2,2]) -> f32[1,16,2] {
  %Arg_0.1 = f32[1,16,2]{2,1,0} parameter(0)
  %Arg_1.2 = f32[2,2]{1,0} parameter(1)
  %input_reduce_fusion = f32[1,2]{1,0} fusion(f32[1,16,2]{2,1,0} %Arg_0.1), kind=kInput, calls=%fused_reduce
  %call = f32[1,16,2]{2,1,0} call(f32[1,16,2]{2,1,0} %Arg_0.1, f32[2,2]{1,0} %Arg_1.2), to_apply=%command_buffer
  %conv = (f32[1,16,2]{2,1,0}, u8[0]{0}) custom-call(f32[1,16,2]{2,1,0} %call, f32[2,2]{1,0} %Arg_1.2), window={size=1}, custom_call_target="__cudnn$convForward"
  %copy.2 = f32[1,16,2]{1,2,0} copy(f32[1,16,2]{2,1,0} %Arg_0.1)
  ROOT %get-tuple-element.9 = f32[1,16,2]{2,1,0} get-tuple-element((f32[1,16,2]{2,1,0}, u8[0]{0}) %conv), index=0
}
`

func TestCount(t *testing.T) {
	for _, tc := range []struct {
		name, text string
	}{
		{"with %", module},
		// Newer XLA prints names without the % sigil.
		{"without %", strings.ReplaceAll(module, "%", "")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Count(tc.text)
			if err != nil {
				t.Fatal(err)
			}
			got := fmt.Sprintf("%s %d %v %v %v", c.Module, c.Kernels, c.Fusions, c.CustomCalls, c.Other)
			want := "jit_fused_ddim 5 map[kInput:1 kLoop:1] map[__cublas$gemm:1 __cudnn$convForward:1] map[copy:1]"
			if got != want {
				t.Errorf("census %q, want %q", got, want)
			}
		})
	}
	if _, err := Count("not HLO at all\n"); err == nil {
		t.Error("Count of a file without computations gave no error")
	}
}

func TestOpcode(t *testing.T) {
	for line, want := range map[string]string{
		`%add.4 = f32[] add(f32[] %a, f32[] %b)`:                                            "add",
		`ROOT %t = (f32[2]{0}, s8[0]{0}) custom-call(f32[2]{0} %x), custom_call_target="x"`: "custom-call",
		`fusion.3 = f32[1,8]{1,0} fusion(p), kind=kLoop, calls=fused_computation.3`:         "fusion",
		`}`:              "",
		`HloModule m`:    "",
		`%x = f32[2]{0}`: "",
	} {
		if got := opcode(line); got != want {
			t.Errorf("opcode(%q) = %q, want %q", line, got, want)
		}
	}
}
