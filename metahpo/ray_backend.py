"""Connecting to Ray for the ``--backend ray`` paths (Ray is an optional extra)."""

from __future__ import annotations

from typing import Any

from metahpo.errors import MetaHPOError


def connect_ray(address: str | None = None) -> Any:
    """The ``ray`` module, initialized: on the cluster at ``address`` or a local Ray started on
    demand (no dashboard); an already initialized Ray is reused."""
    try:
        import ray
    except ImportError:
        raise MetaHPOError("the ray backend needs Ray: pip install 'metahpo[ray]'") from None
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    return ray
