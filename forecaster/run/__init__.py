"""Where training runs: the entry point ``fit``, the worker pool, Ray, the fork server's preload, and the
job registry and queue the dashboard trains through."""
