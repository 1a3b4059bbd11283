"""The synthetic booth: a 3-D body, a camera, choreographies, visitors, a pose-noise
model and a renderer, so every stage can be tested against ground truth without a
camera or a dancer. Torch-free (numpy + OpenCV)."""
