"""What every benchmark shares, split by concern.

- ``server``: the real ``registry serve`` on a free loopback port, and the node it serves;
- ``load``: the plain HTTP/1.1 load client and one-at-a-time timing;
- ``cpu``: where each core's time went while a load ran (Linux ``/proc``);
- ``stats``: the one percentile definition and the "measured vs target" lines;
- ``machine``: the machine's line and its reference figures for the day.
"""
