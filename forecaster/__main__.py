import gc
import sys

from .cli import main

code = main()
# Exiting, Python collects every object torch, sympy and pandas made at import, more than once: about
# 0.7 s of a command's wall time, for memory the process gives back anyway. Frozen, the collector skips
# them; exit handlers (the workers' and their temporary files' clean-up) still run.
gc.freeze()
sys.exit(code)
