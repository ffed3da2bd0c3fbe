"""fpgascore-emulator: the FPGA-emulating reference server of the fpgascore scoring service."""
import os

# Each emulated FPGA is one thread making one BLAS call at a time: that is the server's
# parallelism. BLAS's own worker threads on top would oversubscribe the cores (measured: 2
# FPGAs x 20 ms reached 0.89 of theory with them, 1.00 without). Read when BLAS loads, so
# before numpy is imported; an explicit setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from .config import Settings  # noqa: E402
from .server import EmulatorServer, serve  # noqa: E402

__all__ = ["Settings", "EmulatorServer", "serve"]
__version__ = "0.1.0"
