"""The work on a capture: the job queue, the worker that claims jobs, and the pipeline of
steps it runs (fine-tune, render, gate and deliver)."""
