"""How an image is relit: the engine and what makes it fast and safe on every machine.

- `engine`: device and precision choice, the `Relighter` (one image, or with the flip ensemble); `tensors`: the
  8-channel input and its padding to the model's size multiple;
- `apply`: what ``relight apply`` does for one image (files in, file out); `batch`: folders and torchrun shards;
- `largeimage`: overlapping tiles and the guided-filter upsampling of ``--max-side``;
- CPU speed: `fusion` (convolution + pointwise chains as one oneDNN call, prepacked weights), `quantize`
  (calibrated int8 for CPUs without native bf16), `cpualloc` (freed memory kept for reuse);
- `bench`: latency, memory and GFLOP/s against the device's measured peak (``relight bench``);
- `demo`: ``relight demo`` on the bundled samples.
"""
