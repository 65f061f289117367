"""The embedded cluster finds another port when its own is taken while it starts.

Two clusters starting at once (two test workers, or the service and a benchmark) can both see a
port free and race for it; the loser's server exits with "Address already in use".
"""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path

import pytest

from geo import cluster as cluster_module
from geo.cluster import EmbeddedCluster, free_port_from


def test_start_moves_to_a_free_port_when_its_port_is_taken_during_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    taken = free_port_from(58_700)
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", taken))
    holder.listen()
    real_port_is_free = cluster_module.port_is_free
    lies = {"left": 1}

    def racy_port_is_free(port: int, host: str = "127.0.0.1") -> bool:
        # The first check passes, as if the other server bound the port just after it.
        if port == taken and lies["left"]:
            lies["left"] -= 1
            return True
        return real_port_is_free(port, host)

    base = Path(tempfile.mkdtemp(prefix="timpora-test-port-"))
    base.chmod(0o755)
    cluster = EmbeddedCluster(base, preferred_port=taken, ephemeral=True)
    try:
        cluster.init()  # chose a free port then; the other server takes it before the start
        cluster.port_file.write_text(f"{taken}\n")
        monkeypatch.setattr(cluster_module, "port_is_free", racy_port_is_free)
        cluster.start()
        assert lies["left"] == 0
        assert cluster.port != taken
        assert cluster.is_running()
        assert "Address already in use" in cluster.log_file.read_text()
    finally:
        holder.close()
        cluster.destroy()
