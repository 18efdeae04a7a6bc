"""The evidence store: packets (plain or signed) and their kept responses, immutable and addressed by digest."""

from collector.store.store import EvidenceStore, StoredPacket, StoreError, open_store

__all__ = ["EvidenceStore", "StoreError", "StoredPacket", "open_store"]
