"""fpgascore-emulator: the FPGA-emulating reference server of the fpgascore scoring service."""
from .config import Settings
from .server import EmulatorServer, serve

__all__ = ["Settings", "EmulatorServer", "serve"]
__version__ = "0.1.0"
