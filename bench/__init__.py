"""The benchmarks: each script measures one feature and prints its figures beside their
targets. What they share (the server, the load client, the statistics, the machine's
reference figures) is in ``bench._harness``."""
