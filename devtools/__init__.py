"""What the tests and the benchmarks share to run the registry for real: a throwaway
PostgreSQL cluster and free loopback ports. Never installed with the registry."""
