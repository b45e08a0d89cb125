// Package arm is the chapter's "7-DOF arm": a kinematic simulator of a
// Franka-Emika-Panda-like arm, with the reaching tasks its behaviour-cloning
// and vision-language policies are trained on.
//
// Frames and units: positions are in metres and angles in radians, in the
// robot's base frame (x forward toward the work area, y to the robot's
// left, z up, origin at the foot of the base on the floor). Time is in
// seconds; the controller runs at 10 Hz (ControlDt = 0.1 s).
//
// The pieces:
//
//   - FK and Jacobian: forward kinematics by the Panda's published
//     modified-DH parameters (every joint frame, flange and hand tool
//     centre point) and the end effector's position Jacobian; DLS solves
//     the damped least-squares step.
//   - Env: an action is 7 joint-position targets; the joints, unit
//     inertias under a PD torque with the Panda's velocity, acceleration
//     and position limits, are integrated in Substeps substeps. The state is
//     (q, q̇), reported in Obs with the end effector, the targets and the
//     instruction; Obs.Proprio is the chapter's 14-D proprioception and
//     Obs.Vector a flat task-state vector.
//   - Tasks: Reach (one random target), ReachColor (a red and a blue
//     target and the instruction "reach the red target" or "reach the blue
//     target"; hold 5 steps at the named one, fail on touching the other),
//     and ReachBetween ("reach between the red and blue targets": hold 5
//     steps at their midpoint, fail on touching either).
//   - Render and Image96: pinhole-camera images drawn with the raster
//     package (96×96 for the policy, larger for GIFs).
//   - Expert: the scripted damped-least-squares demonstrator.
//
// Everything is deterministic: Reset(seed) draws from its own PCG
// generator, so the same seed and actions give bit-identical trajectories.
package arm
