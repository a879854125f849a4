"""The Lambda layer builder: ``python -m infra.layerbuild build|lock`` (``make layers``).

A pipeline of small steps per layer (resolve -> install -> slim -> compile -> zip -> verify),
then checks across layers (conflicts, size gate, import smoke test) and the manifest that the
deployer and the local Lambda service read. See docs/layers.md.
"""
