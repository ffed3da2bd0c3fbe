"""--port 0 --port-file FILE: the server picks a free port and, once listening, writes it to
FILE (atomically: a temporary file renamed). Every launcher reads the port from there: the
runner's kit (EmulatorProcess, used here), the Go and C# tests and the manager."""
from fpgascore_conformance.emulator import EmulatorProcess, ServerConfig

from . import rpc


def test_port_zero_writes_the_bound_port_to_the_port_file_once_listening():
    with EmulatorProcess(ServerConfig()) as server:
        assert server.port > 0
        assert server.port_file.read_text() == f"{server.port}\n"
        assert not server.port_file.with_name(server.port_file.name + ".tmp").exists()
        response, _ = rpc.plaintext(server.target).predict(rpc.image_request([rpc.image("gradient.jpg")]))
        assert [d.size for d in response.outputs["output_alias"].tensor_shape.dim] == [1, 1000]
